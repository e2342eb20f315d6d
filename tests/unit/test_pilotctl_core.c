/* test_pilotctl_core: pilotctl's shared plumbing as users meet it: option
 * parsing (options anywhere, --x=v, repeated --set, usage errors exit 2),
 * number parsing, the exit-code contract of registry errors (3 for an
 * unreachable cluster or no leader, 1 otherwise), msgpack results turned
 * into JSON, and the identity file (0600, round trip, damage detected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "ctl.h"

static void test_parse_options_anywhere(void **state)
{
    (void)state;
    char *argv[] = {"policy", "--set", "max_members=5", "7", "--set=description=x y",
                    "--force", NULL};
    struct ctl_opt o[] = {{.name = "--set", .has_arg = true}, {.name = "--force"}};
    const char *pos[2];
    size_t np = 0;

    assert_int_equal(ctl_parse(6, argv, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_OK);
    assert_int_equal(np, 1);
    assert_string_equal(pos[0], "7");
    assert_int_equal(o[0].n, 2);
    assert_string_equal(o[0].vals[0], "max_members=5");
    assert_string_equal(o[0].vals[1], "description=x y");
    assert_string_equal(ctl_opt_val(&o[0]), "description=x y");
    assert_true(o[1].seen);
}

static void test_parse_usage_errors(void **state)
{
    (void)state;
    struct ctl_opt o[] = {{.name = "--token", .has_arg = true}, {.name = "--flag"}};
    const char *pos[2];
    size_t np;
    char *unknown[] = {"join", "1", "--tokn", "x", NULL};
    char *missing_val[] = {"join", "1", "--token", NULL};
    char *too_many[] = {"join", "1", "2", NULL};
    char *too_few[] = {"join", NULL};
    char *flag_val[] = {"join", "1", "--flag=yes", NULL};
    char *dashdash[] = {"join", "--", "--token", NULL};

    ctl_g.json = true; /* keep stderr to one line per case */
    assert_int_equal(ctl_parse(4, unknown, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_USAGE);
    assert_int_equal(ctl_parse(3, missing_val, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_USAGE);
    assert_int_equal(ctl_parse(3, too_many, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_USAGE);
    assert_int_equal(ctl_parse(1, too_few, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_USAGE);
    assert_int_equal(ctl_parse(3, flag_val, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_USAGE);
    o[0].n = 0;
    assert_int_equal(ctl_parse(3, dashdash, o, 2, pos, 1, 1, &np, "u"), CTL_EXIT_OK);
    assert_string_equal(pos[0], "--token");
    assert_int_equal(o[0].n, 0);
    ctl_g.json = false;
}

static void test_parse_uint(void **state)
{
    (void)state;
    uint64_t v = 0;

    assert_true(ctl_parse_uint("65535", 1, 65535, &v));
    assert_int_equal(v, 65535);
    assert_false(ctl_parse_uint("65536", 1, 65535, &v));
    assert_false(ctl_parse_uint("0", 1, 65535, &v));
    assert_false(ctl_parse_uint("-1", 0, 65535, &v));
    assert_false(ctl_parse_uint(" 1", 0, 65535, &v));
    assert_false(ctl_parse_uint("1x", 0, 65535, &v));
    assert_false(ctl_parse_uint("", 0, 65535, &v));
    assert_false(ctl_parse_uint("99999999999999999999999", 0, UINT64_MAX, &v));
    assert_int_equal(v, 65535);
}

static void test_exit_codes(void **state)
{
    (void)state;
    ctl_g.json = true;
    assert_int_equal(ctl_fail_reg(REG_UNAVAILABLE, "down", NULL), CTL_EXIT_UNREACHABLE);
    assert_int_equal(ctl_fail_reg(REG_NO_LEADER, "", NULL), CTL_EXIT_UNREACHABLE);
    assert_int_equal(ctl_fail_reg(REG_TIMEOUT, "", NULL), CTL_EXIT_UNREACHABLE);
    assert_int_equal(ctl_fail_reg(REG_NOT_FOUND, "x", "h"), CTL_EXIT_ERROR);
    assert_int_equal(ctl_fail_reg(REG_UNKNOWN_OUTCOME, "x", NULL), CTL_EXIT_ERROR);
    assert_int_equal(ctl_fail_reg(REG_PERMISSION_DENIED, "x", NULL), CTL_EXIT_ERROR);
    assert_int_equal(ctl_usage("u", "bad"), CTL_EXIT_USAGE);
    ctl_g.json = false;
}

static void test_msgpack_to_json(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_zone zone;
    msgpack_object obj;
    json_t *j;
    static const uint8_t key[3] = {0x00, 0xab, 0xff};

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    msgpack_pack_str_with_body(&pk, "node_id", 7);
    msgpack_pack_uint32(&pk, 4097);
    msgpack_pack_str_with_body(&pk, "key", 3);
    msgpack_pack_bin_with_body(&pk, key, 3);
    msgpack_pack_str_with_body(&pk, "tags", 4);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "gpu", 3);
    msgpack_pack_str_with_body(&pk, "public", 6);
    msgpack_pack_false(&pk);
    msgpack_zone_init(&zone, 512);
    assert_int_equal(msgpack_unpack(sb.data, sb.size, NULL, &zone, &obj), MSGPACK_UNPACK_SUCCESS);
    j = ctl_from_msgpack(&obj);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "node_id")), 4097);
    assert_string_equal(json_string_value(json_object_get(j, "key")), "00abff");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "tags"), 0)), "gpu");
    assert_true(json_is_false(json_object_get(j, "public")));
    json_decref(j);
    msgpack_zone_destroy(&zone);
    msgpack_sbuffer_destroy(&sb);
}

static void test_identity_round_trip(void **state)
{
    (void)state;
    char dir[] = "/tmp/test-pilotctl-XXXXXX";
    char path[256];
    uint8_t pk[32], sk[CL_SECRET_KEY_LEN], back[CL_SECRET_KEY_LEN];
    struct stat st;
    FILE *f;

    assert_non_null(mkdtemp(dir));
    setenv("PILOT_HOME", dir, 1);
    assert_true(sodium_init() >= 0);
    crypto_sign_keypair(pk, sk);
    snprintf(path, sizeof path, "%s/identity", dir);
    assert_int_equal(ctl_identity_save(path, sk), CTL_EXIT_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(ctl_identity_load(back), CTL_EXIT_OK);
    assert_memory_equal(sk, back, sizeof sk);

    /* A public key that does not match the secret key is refused. */
    ctl_g.json = true;
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"version\":1,\"public_key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
          "\"secret_key\":\"AAAA\"}",
          f);
    fclose(f);
    assert_int_equal(ctl_identity_load(back), CTL_EXIT_ERROR);
    f = fopen(path, "w");
    fputs("not json", f);
    fclose(f);
    assert_int_equal(ctl_identity_load(back), CTL_EXIT_ERROR);
    unlink(path);
    assert_int_equal(ctl_identity_load(back), CTL_EXIT_ERROR);
    ctl_g.json = false;
    rmdir(dir);
    unsetenv("PILOT_HOME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_options_anywhere),
        cmocka_unit_test(test_parse_usage_errors),
        cmocka_unit_test(test_parse_uint),
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_msgpack_to_json),
        cmocka_unit_test(test_identity_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
