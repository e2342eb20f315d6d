/* config.c: the pilot-registry configuration (DESIGN.md §8): defaults,
 * command-line flags and the INI file, validation, and loading the secret
 * files (cluster key, admin token).
 *
 * Precedence: defaults < config file < command line. The config file is
 * read first wherever --config appears, so a flag always wins. Every key of
 * the INI file is the long flag name without "--" ("-" and "_" are
 * equivalent); sections are ignored so operators may group keys freely. */
#include <errno.h>
#include <stddef.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "glue.h"
#include "server.h"

void srv_config_defaults(struct srv_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->cluster_id, sizeof c->cluster_id, "pilot");
    snprintf(c->log_level, sizeof c->log_level, "info");
    c->election_timeout_ms = 1000;
    c->heartbeat_timeout_ms = 100;
    c->snapshot_threshold = 4096;
    c->snapshot_trailing = 8192;
    c->max_frame = 1024 * 1024;
    c->max_conns = 4096;
    c->idle_timeout_ms = 300 * 1000;
    c->write_queue_max = 8 * 1024 * 1024;
    c->offline_after_ms = 60 * 1000;
    c->liveness_interval_ms = 5 * 1000;
}

/* Bounded unsigned parse: the whole string must be a number in [lo, hi]. */
static int parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    unsigned long long n;
    if (v == NULL || *v == '\0' || *v == '-' || *v == '+') {
        return -1;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0' || n < lo || n > hi) {
        return -1;
    }
    *out = n;
    return 0;
}

static int copy_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap) {
        return -1;
    }
    memcpy(dst, v, n + 1);
    return 0;
}

/* "host:port" with a numeric IPv4 host (raft 0.15 takes nothing else, and we
 * keep one address syntax for every listener). */
int srv_parse_hostport(const char *s, char host[static 64], uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    uint64_t p = 0;
    size_t hl;
    unsigned a, b, c, d;
    char tail;
    int rv = -1;
    if (colon == NULL) {
        goto out;
    }
    hl = (size_t)(colon - s);
    if (hl == 0 || hl >= 64) {
        goto out;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    if (sscanf(host, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255) {
        goto out;
    }
    if (parse_u64(colon + 1, 1, 65535, &p) != 0) {
        goto out;
    }
    *port = (uint16_t)p;
    rv = 0;
out:
    return rv;
}

static int check_addr(const char *v)
{
    char host[64];
    uint16_t port;
    return srv_parse_hostport(v, host, &port);
}

/* "1=H:P,2=H:P": ids unique and non-zero, addresses valid. */
int srv_parse_initial_cluster(const char *s, struct srv_peer *out, unsigned cap,
                              unsigned *n_out, char errmsg[static REG_ERRMSG_SIZE])
{
    char buf[SRV_INITIAL_CLUSTER_MAX + 1];
    char *save = NULL;
    char *tok;
    unsigned n = 0;
    int rv = REG_INVALID_ARGUMENT;
    if (copy_str(buf, sizeof buf, s) != 0) {
        reg_errmsgf(errmsg, "initial-cluster is empty or too long");
        goto out;
    }
    for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        uint64_t id;
        unsigned i;
        if (eq == NULL) {
            reg_errmsgf(errmsg, "initial-cluster entry '%s' is not ID=HOST:PORT", tok);
            goto out;
        }
        *eq = '\0';
        if (parse_u64(tok, 1, GLUE_ID_MAX, &id) != 0) {
            reg_errmsgf(errmsg, "initial-cluster id '%s' is not a positive integer", tok);
            goto out;
        }
        if (check_addr(eq + 1) != 0 || strlen(eq + 1) >= sizeof out[0].addr) {
            reg_errmsgf(errmsg, "initial-cluster address '%s' is not IPV4:PORT", eq + 1);
            goto out;
        }
        for (i = 0; i < n; i++) {
            if (out[i].id == id) {
                reg_errmsgf(errmsg, "initial-cluster id %llu appears twice",
                            (unsigned long long)id);
                goto out;
            }
        }
        if (n == cap) {
            reg_errmsgf(errmsg, "initial-cluster has more than %u members", cap);
            goto out;
        }
        out[n].id = id;
        snprintf(out[n].addr, sizeof out[n].addr, "%s", eq + 1);
        n++;
    }
    if (n == 0) {
        reg_errmsgf(errmsg, "initial-cluster lists no member");
        goto out;
    }
    *n_out = n;
    rv = REG_OK;
out:
    return rv;
}

/* Every valued setting: its key, where it lands in srv_config, and for
 * numbers the accepted range. Numbers are all uint64_t fields. */
struct setting {
    const char *name;
    bool is_str;
    size_t off, size;
    uint64_t lo, hi;
};
#define S_STR(name, field) {name, true, offsetof(struct srv_config, field), \
                            sizeof(((struct srv_config *)0)->field), 0, 0}
#define S_NUM(name, field, lo, hi) {name, false, offsetof(struct srv_config, field), 8, lo, hi}
static const struct setting settings[] = {
    S_NUM("id", id, 1, GLUE_ID_MAX),
    S_STR("name", name),
    S_STR("data-dir", data_dir),
    S_STR("listen", listen),
    S_STR("raft", raft),
    S_STR("http", http),
    S_STR("initial-cluster", initial_cluster),
    S_STR("join", join),
    S_STR("cluster-key-file", cluster_key_file),
    S_STR("admin-token-file", admin_token_file),
    S_STR("cluster-id", cluster_id),
    S_STR("log-level", log_level),
    S_STR("restore", restore),
    S_NUM("election-timeout", election_timeout_ms, 50, 600000),
    S_NUM("heartbeat-timeout", heartbeat_timeout_ms, 5, 600000),
    S_NUM("snapshot-threshold", snapshot_threshold, 1, 1u << 30),
    S_NUM("snapshot-trailing", snapshot_trailing, 0, 1u << 30),
    S_NUM("max-frame", max_frame, 1024, 64u * 1024 * 1024),
    S_NUM("max-conns", max_conns, 1, 1000000),
    S_NUM("idle-timeout", idle_timeout_ms, 100, 86400000),
    S_NUM("write-queue-max", write_queue_max, 4096, 1u << 30),
    S_NUM("offline-after", offline_after_ms, 100, 86400000),
    S_NUM("liveness-interval", liveness_interval_ms, 10, 3600000),
};
#undef S_STR
#undef S_NUM

/* Apply one setting by its key (flag name without dashes). value is NULL for
 * boolean flags given without a value. */
/* Switches: "--name" alone means true; "--name=false" (or an INI value
 * true/false, 1/0, yes/no) sets them explicitly. */
static const struct {
    const char *name;
    size_t offset;
} switches[] = {
    {"bootstrap", offsetof(struct srv_config, bootstrap)},
    {"redirect", offsetof(struct srv_config, redirect)},
    {"force-new-cluster", offsetof(struct srv_config, force_new_cluster)},
    {"no-fast-failover", offsetof(struct srv_config, no_fast_failover)},
};

/* The switch named k ("-" or "_" separated), or NULL. */
static bool *switch_of(struct srv_config *c, const char *k)
{
    for (size_t i = 0; i < sizeof switches / sizeof switches[0]; i++) {
        const char *a = switches[i].name, *b = k;
        while (*a != '\0' && (*a == *b || (*a == '-' && *b == '_'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            return (bool *)((char *)c + switches[i].offset);
        }
    }
    return NULL;
}

static int config_set(struct srv_config *c, const char *key, const char *value,
                      char errmsg[static REG_ERRMSG_SIZE])
{
    char k[64];
    size_t i;
    uint64_t n = 0;
    int rv = REG_INVALID_ARGUMENT;
    if (strlen(key) >= sizeof k) {
        reg_errmsgf(errmsg, "unknown setting '%.60s'", key);
        goto out;
    }
    for (i = 0; key[i] != '\0'; i++) {
        k[i] = key[i] == '_' ? '-' : key[i];
    }
    k[i] = '\0';

    bool *sw = switch_of(c, k);
    if (sw != NULL) {
        bool b = true;
        if (value != NULL) {
            if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
                strcmp(value, "yes") == 0) {
                b = true;
            } else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
                       strcmp(value, "no") == 0) {
                b = false;
            } else {
                reg_errmsgf(errmsg, "%s: '%s' is not a boolean", k, value);
                goto out;
            }
        }
        *sw = b;
        rv = REG_OK;
        goto out;
    }
    if (value == NULL) {
        reg_errmsgf(errmsg, "--%s needs a value", k);
        goto out;
    }
    for (i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const struct setting *st = &settings[i];
        if (strcmp(k, st->name) != 0) {
            continue;
        }
        if (st->is_str) {
            char *dst = (char *)c + st->off;
            if (copy_str(dst, st->size, value) != 0) {
                reg_errmsgf(errmsg, "%s: empty or longer than %zu bytes", k, st->size - 1);
                goto out;
            }
        } else {
            if (parse_u64(value, st->lo, st->hi, &n) != 0) {
                reg_errmsgf(errmsg, "%s: '%s' is not an integer in [%llu, %llu]", k, value,
                            (unsigned long long)st->lo, (unsigned long long)st->hi);
                goto out;
            }
            memcpy((char *)c + st->off, &n, sizeof n);
        }
        rv = REG_OK;
        goto out;
    }
    reg_errmsgf(errmsg, "unknown setting '%s'", k);
out:
    return rv;
}

struct ini_ctx {
    struct srv_config *c;
    char *errmsg;
    int rv;
};

static int ini_cb(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    (void)section;
    if (x->rv != REG_OK) {
        return 0;
    }
    x->rv = config_set(x->c, name, value, x->errmsg);
    return x->rv == REG_OK;
}

int srv_config_load_file(struct srv_config *c, const char *path,
                         char errmsg[static REG_ERRMSG_SIZE])
{
    struct ini_ctx x = {c, errmsg, REG_OK};
    int line = ini_parse(path, ini_cb, &x);
    int rv = REG_OK;
    if (line == -1) {
        reg_errmsgf(errmsg, "cannot open config file %s", path);
        rv = REG_INVALID_ARGUMENT;
    } else if (x.rv != REG_OK) {
        reg_errmsg_wrapf(errmsg, "%s", path);
        rv = x.rv;
    } else if (line != 0) {
        reg_errmsgf(errmsg, "%s:%d: syntax error", path, line);
        rv = REG_INVALID_ARGUMENT;
    }
    return rv;
}

int srv_config_parse_args(struct srv_config *c, int argc, char **argv,
                          char errmsg[static REG_ERRMSG_SIZE])
{
    int i;
    int rv = REG_OK;
    /* The file first, so flags override it. */
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                reg_errmsgf(errmsg, "--config needs a file name");
                rv = REG_INVALID_ARGUMENT;
                goto out;
            }
            rv = srv_config_load_file(c, argv[i + 1], errmsg);
            if (rv != REG_OK) {
                goto out;
            }
            i++;
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            rv = srv_config_load_file(c, argv[i] + 9, errmsg);
            if (rv != REG_OK) {
                goto out;
            }
        }
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *eq;
        char key[64];
        const char *value = NULL;
        if (strncmp(a, "--", 2) != 0) {
            reg_errmsgf(errmsg, "unexpected argument '%s'", a);
            rv = REG_INVALID_ARGUMENT;
            goto out;
        }
        a += 2;
        if (strcmp(a, "config") == 0) {
            i++;
            continue;
        }
        if (strncmp(a, "config=", 7) == 0) {
            continue;
        }
        eq = strchr(a, '=');
        if (eq != NULL) {
            size_t kl = (size_t)(eq - a);
            if (kl >= sizeof key) {
                kl = sizeof key - 1;
            }
            memcpy(key, a, kl);
            key[kl] = '\0';
            value = eq + 1;
        } else {
            snprintf(key, sizeof key, "%s", a);
            struct srv_config probe;
            if (switch_of(&probe, key) == NULL) {
                if (i + 1 >= argc) {
                    reg_errmsgf(errmsg, "--%s needs a value", key);
                    rv = REG_INVALID_ARGUMENT;
                    goto out;
                }
                value = argv[++i];
            }
        }
        rv = config_set(c, key, value, errmsg);
        if (rv != REG_OK) {
            goto out;
        }
    }
out:
    return rv;
}

int srv_config_validate(const struct srv_config *c, char errmsg[static REG_ERRMSG_SIZE])
{
    int modes = (c->bootstrap ? 1 : 0) + (c->initial_cluster[0] ? 1 : 0) + (c->join[0] ? 1 : 0);
    struct srv_peer peers[SRV_PEERS_MAX];
    unsigned n = 0, i;
    int rv = REG_INVALID_ARGUMENT;
    bool self_found = false;
    if (c->id == 0) {
        reg_errmsgf(errmsg, "--id is required (a positive integer, never reused)");
        goto out;
    }
    if (c->data_dir[0] == '\0') {
        reg_errmsgf(errmsg, "--data-dir is required");
        goto out;
    }
    if (check_addr(c->listen) != 0) {
        reg_errmsgf(errmsg, "--listen '%s' is not IPV4:PORT", c->listen);
        goto out;
    }
    if (check_addr(c->raft) != 0) {
        reg_errmsgf(errmsg, "--raft '%s' is not IPV4:PORT", c->raft);
        goto out;
    }
    if (c->http[0] != '\0' && check_addr(c->http) != 0) {
        reg_errmsgf(errmsg, "--http '%s' is not IPV4:PORT", c->http);
        goto out;
    }
    if (modes > 1) {
        reg_errmsgf(errmsg, "--bootstrap, --initial-cluster and --join are exclusive");
        goto out;
    }
    if (c->force_new_cluster && modes > 0) {
        reg_errmsgf(errmsg, "--force-new-cluster restarts an existing node: no --bootstrap, "
                            "--initial-cluster or --join");
        goto out;
    }
    if (c->restore[0] != '\0' && !c->bootstrap && c->initial_cluster[0] == '\0') {
        reg_errmsgf(errmsg, "--restore needs --bootstrap or --initial-cluster (a new cluster)");
        goto out;
    }
    if (c->join[0] != '\0' && check_addr(c->join) != 0) {
        reg_errmsgf(errmsg, "--join '%s' is not IPV4:PORT", c->join);
        goto out;
    }
    if (c->initial_cluster[0] != '\0') {
        rv = srv_parse_initial_cluster(c->initial_cluster, peers, SRV_PEERS_MAX, &n, errmsg);
        if (rv != REG_OK) {
            goto out;
        }
        rv = REG_INVALID_ARGUMENT;
        for (i = 0; i < n; i++) {
            if (peers[i].id == c->id) {
                self_found = true;
                if (strcmp(peers[i].addr, c->raft) != 0) {
                    reg_errmsgf(errmsg, "initial-cluster gives id %llu address %s but --raft is %s",
                                (unsigned long long)c->id, peers[i].addr, c->raft);
                    goto out;
                }
            }
        }
        if (!self_found) {
            reg_errmsgf(errmsg, "initial-cluster does not list this node's id %llu",
                        (unsigned long long)c->id);
            goto out;
        }
    }
    if (c->heartbeat_timeout_ms >= c->election_timeout_ms) {
        reg_errmsgf(errmsg, "heartbeat-timeout (%llu) must be below election-timeout (%llu)",
                    (unsigned long long)c->heartbeat_timeout_ms,
                    (unsigned long long)c->election_timeout_ms);
        goto out;
    }
    if (srv_log_level_from_name(c->log_level) < 0) {
        reg_errmsgf(errmsg, "--log-level '%s' is not debug, info, warn or error", c->log_level);
        goto out;
    }
    if (c->cluster_key_file[0] == '\0') {
        reg_errmsgf(errmsg, "--cluster-key-file is required (32 random bytes, raw or hex)");
        goto out;
    }
    rv = REG_OK;
out:
    return rv;
}

/* Read a small secret file whole. Group/other-readable secrets are refused:
 * an operator who left the key world-readable has already leaked it. */
static int read_secret(const char *path, uint8_t *buf, size_t cap, size_t *len,
                       size_t *raw_len, char errmsg[static REG_ERRMSG_SIZE])
{
    FILE *f = NULL;
    struct stat st;
    size_t n;
    int rv = REG_INVALID_ARGUMENT;
    f = fopen(path, "rb");
    if (f == NULL) {
        reg_errmsgf(errmsg, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077) != 0) {
        reg_errmsgf(errmsg, "%s must not be readable by group or others (chmod 600)", path);
        goto err_after_open;
    }
    n = fread(buf, 1, cap, f);
    if (n == cap) {
        reg_errmsgf(errmsg, "%s is larger than %zu bytes", path, cap - 1);
        goto err_after_open;
    }
    *raw_len = n;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) {
        n--;
    }
    *len = n;
    rv = REG_OK;
err_after_open:
    fclose(f);
out:
    return rv;
}

int srv_config_load_secrets(const struct srv_config *c, struct srv_secrets *s,
                            char errmsg[static REG_ERRMSG_SIZE])
{
    uint8_t buf[SRV_ADMIN_TOKEN_MAX + 2];
    size_t len = 0, raw_len = 0, bin_len = 0;
    int rv;
    memset(s, 0, sizeof *s);
    rv = read_secret(c->cluster_key_file, buf, sizeof buf, &len, &raw_len, errmsg);
    if (rv != REG_OK) {
        goto out;
    }
    /* Raw keys are judged by their untrimmed length: random bytes may end
     * in what looks like a newline. */
    if (raw_len == SRV_CLUSTER_KEY_LEN) {
        memcpy(s->cluster_key, buf, SRV_CLUSTER_KEY_LEN);
    } else if (len == 2 * SRV_CLUSTER_KEY_LEN &&
               sodium_hex2bin(s->cluster_key, sizeof s->cluster_key, (const char *)buf, len,
                              NULL, &bin_len, NULL) == 0 &&
               bin_len == SRV_CLUSTER_KEY_LEN) {
        /* hex form */
    } else {
        reg_errmsgf(errmsg, "%s: cluster key must be 32 raw bytes or 64 hex digits",
                    c->cluster_key_file);
        rv = REG_INVALID_ARGUMENT;
        goto out;
    }
    if (c->admin_token_file[0] != '\0') {
        rv = read_secret(c->admin_token_file, buf, sizeof buf, &len, &raw_len, errmsg);
        if (rv != REG_OK) {
            goto out;
        }
        if (len < 16) {
            reg_errmsgf(errmsg, "%s: admin token must be at least 16 bytes", c->admin_token_file);
            rv = REG_INVALID_ARGUMENT;
            goto out;
        }
        if (memchr(buf, '\0', len) != NULL) {
            reg_errmsgf(errmsg, "%s: admin token must not contain NUL bytes",
                        c->admin_token_file);
            rv = REG_INVALID_ARGUMENT;
            goto out;
        }
        memcpy(s->admin_token, buf, len);
        s->admin_token[len] = '\0';
        s->admin_token_len = len;
    }
    rv = REG_OK;
out:
    sodium_memzero(buf, sizeof buf);
    return rv;
}
