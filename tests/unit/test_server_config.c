/* registry/server configuration: flags, INI file, precedence, validation
 * and secret files. Every bad input is refused with a message naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pilot-cfg-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, size_t len, int mode, char *path)
{
    FILE *f;
    sprintf(path, "%s/%s", dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    chmod(path, (mode_t)mode);
}

static int parse(struct srv_config *c, int argc, const char **argv, char *errmsg)
{
    srv_config_defaults(c);
    return srv_config_parse_args(c, argc, (char **)argv, errmsg);
}

static void test_flags_and_validate(void **state)
{
    struct srv_config c;
    char errmsg[REG_ERRMSG_SIZE];
    const char *argv[] = {"x", "--id", "2", "--data-dir", "/tmp/d", "--listen=127.0.0.1:9000",
                          "--raft", "127.0.0.1:9001", "--initial-cluster",
                          "1=127.0.0.1:8001,2=127.0.0.1:9001", "--cluster-key-file", "/k",
                          "--redirect", "--election-timeout", "2000", "--no-fast-failover"};
    (void)state;
    assert_int_equal(parse(&c, 16, argv, errmsg), REG_OK);
    assert_true(c.no_fast_failover);
    assert_false(c.bootstrap);
    assert_int_equal(c.id, 2);
    assert_string_equal(c.listen, "127.0.0.1:9000");
    assert_true(c.redirect);
    assert_int_equal(c.election_timeout_ms, 2000);
    assert_int_equal(c.heartbeat_timeout_ms, 100);
    assert_int_equal(srv_config_validate(&c, errmsg), REG_OK);

    /* initial-cluster must list this id with this --raft address. */
    snprintf(c.raft, sizeof c.raft, "127.0.0.1:9999");
    assert_int_equal(srv_config_validate(&c, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "9999"));
}

static void test_bad_flags(void **state)
{
    struct srv_config c;
    char errmsg[REG_ERRMSG_SIZE];
    const char *unknown[] = {"x", "--no-such-flag", "1"};
    const char *badnum[] = {"x", "--id", "12abc"};
    const char *zero[] = {"x", "--id", "0"};
    /* Reserved for raft-glue's configuration refresh (its phantom spare). */
    const char *reserved[] = {"x", "--id", "18446744073709551614"};
    const char *missing[] = {"x", "--listen"};
    const char *stray[] = {"x", "positional"};
    const char *badbool[] = {"x", "--redirect=maybe"};
    (void)state;
    assert_int_equal(parse(&c, 3, unknown, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "no-such-flag"));
    assert_int_equal(parse(&c, 3, badnum, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "12abc"));
    assert_int_equal(parse(&c, 3, zero, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(parse(&c, 3, reserved, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(parse(&c, 2, missing, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(parse(&c, 2, stray, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(parse(&c, 2, badbool, errmsg), REG_INVALID_ARGUMENT);
}

static void test_validate_rules(void **state)
{
    struct srv_config c;
    char errmsg[REG_ERRMSG_SIZE];
    (void)state;
    srv_config_defaults(&c);
    c.id = 1;
    snprintf(c.data_dir, sizeof c.data_dir, "/tmp/d");
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:1");
    snprintf(c.raft, sizeof c.raft, "127.0.0.1:2");
    snprintf(c.cluster_key_file, sizeof c.cluster_key_file, "/k");
    c.bootstrap = true;
    assert_int_equal(srv_config_validate(&c, errmsg), REG_OK);
    snprintf(c.join, sizeof c.join, "127.0.0.1:3");
    assert_int_equal(srv_config_validate(&c, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "exclusive"));
    c.join[0] = '\0';
    snprintf(c.listen, sizeof c.listen, "localhost:1");
    assert_int_equal(srv_config_validate(&c, errmsg), REG_INVALID_ARGUMENT);
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:70000");
    assert_int_equal(srv_config_validate(&c, errmsg), REG_INVALID_ARGUMENT);
    snprintf(c.listen, sizeof c.listen, "127.0.0.1:1");
    c.heartbeat_timeout_ms = c.election_timeout_ms;
    assert_int_equal(srv_config_validate(&c, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "heartbeat"));
}

static void test_initial_cluster_parse(void **state)
{
    struct srv_peer p[4];
    unsigned n = 0;
    char errmsg[REG_ERRMSG_SIZE];
    (void)state;
    assert_int_equal(srv_parse_initial_cluster("1=10.0.0.1:1,2=10.0.0.2:2", p, 4, &n, errmsg),
                     REG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(p[1].id, 2);
    assert_string_equal(p[1].addr, "10.0.0.2:2");
    assert_int_equal(srv_parse_initial_cluster("1=10.0.0.1:1,1=10.0.0.2:2", p, 4, &n, errmsg),
                     REG_INVALID_ARGUMENT);
    assert_int_equal(srv_parse_initial_cluster("1=host:1", p, 4, &n, errmsg),
                     REG_INVALID_ARGUMENT);
    assert_int_equal(srv_parse_initial_cluster("x=10.0.0.1:1", p, 4, &n, errmsg),
                     REG_INVALID_ARGUMENT);
    assert_int_equal(srv_parse_initial_cluster("1=1.1.1.1:1,2=1.1.1.1:2,3=1.1.1.1:3", p, 2, &n,
                                               errmsg),
                     REG_INVALID_ARGUMENT);
}

static void test_ini_file(void **state)
{
    struct srv_config c;
    char errmsg[REG_ERRMSG_SIZE], path[128], arg[160];
    const char *ini = "; comment\n[node]\nid = 3\ndata_dir = /var/x\nlisten = 127.0.0.1:5\n"
                      "[tuning]\nelection-timeout = 1500\nredirect = true\n"
                      "no_fast_failover = no\n";
    const char *argv[] = {"x", "--election-timeout", "3000", "--config", arg};
    (void)state;
    write_file("a.ini", ini, strlen(ini), 0600, path);
    snprintf(arg, sizeof arg, "%s", path);
    /* The file is read first wherever --config appears; flags win. */
    assert_int_equal(parse(&c, 5, argv, errmsg), REG_OK);
    assert_int_equal(c.id, 3);
    assert_string_equal(c.data_dir, "/var/x");
    assert_true(c.redirect);
    assert_false(c.no_fast_failover);
    assert_int_equal(c.election_timeout_ms, 3000);

    write_file("b.ini", "id = 3\nbogus = 1\n", 18, 0600, path);
    srv_config_defaults(&c);
    assert_int_equal(srv_config_load_file(&c, path, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "bogus"));
    write_file("c.ini", "id\n", 3, 0600, path);
    assert_int_equal(srv_config_load_file(&c, path, errmsg), REG_INVALID_ARGUMENT);
    assert_int_equal(srv_config_load_file(&c, "/nonexistent/x.ini", errmsg),
                     REG_INVALID_ARGUMENT);
}

static void test_secrets(void **state)
{
    struct srv_config c;
    struct srv_secrets s;
    char errmsg[REG_ERRMSG_SIZE], key[128], tok[128];
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    (void)state;
    srv_config_defaults(&c);
    write_file("key.hex", hex, strlen(hex), 0600, key);
    write_file("tok", "0123456789abcdef-token\n", 23, 0600, tok);
    snprintf(c.cluster_key_file, sizeof c.cluster_key_file, "%s", key);
    snprintf(c.admin_token_file, sizeof c.admin_token_file, "%s", tok);
    assert_int_equal(srv_config_load_secrets(&c, &s, errmsg), REG_OK);
    assert_int_equal(s.cluster_key[31], 0x1f);
    assert_string_equal(s.admin_token, "0123456789abcdef-token");

    write_file("key.short", "abc", 3, 0600, key);
    snprintf(c.cluster_key_file, sizeof c.cluster_key_file, "%s", key);
    assert_int_equal(srv_config_load_secrets(&c, &s, errmsg), REG_INVALID_ARGUMENT);
    write_file("key.open", hex, strlen(hex), 0644, key);
    snprintf(c.cluster_key_file, sizeof c.cluster_key_file, "%s", key);
    assert_int_equal(srv_config_load_secrets(&c, &s, errmsg), REG_INVALID_ARGUMENT);
    assert_non_null(strstr(errmsg, "chmod"));
    /* A raw key whose last random byte happens to be a newline. */
    write_file("key.raw", "0123456789abcdef0123456789abcde\n", 32, 0600, key);
    snprintf(c.cluster_key_file, sizeof c.cluster_key_file, "%s", key);
    snprintf(c.admin_token_file, sizeof c.admin_token_file, "%s/tok", dir);
    assert_int_equal(srv_config_load_secrets(&c, &s, errmsg), REG_OK);
    assert_int_equal(s.cluster_key[31], '\n');
    snprintf(c.cluster_key_file, sizeof c.cluster_key_file, "%s", key);
    write_file("tok.short", "short", 5, 0600, tok);
    snprintf(c.admin_token_file, sizeof c.admin_token_file, "%s", tok);
    assert_int_equal(srv_config_load_secrets(&c, &s, errmsg), REG_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_and_validate),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_validate_rules),
        cmocka_unit_test(test_initial_cluster_parse),
        cmocka_unit_test(test_ini_file),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
