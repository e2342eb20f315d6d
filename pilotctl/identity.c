/* pilotctl identity commands: `init` creates the Ed25519 identity (libsodium)
 * and the config in $PILOT_HOME; `identity` shows it. The identity file is
 * written 0600 through a temporary file and rename, so a crash never leaves
 * a half-written key; an existing identity is kept unless --force. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "ctl.h"

static const char init_usage[] = "pilotctl init [--registry H:P[,H:P...]] [--force]";

static void b64(const uint8_t *bin, size_t n, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

static int create_identity(const char *path, char pk_b64[64])
{
    uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    int rv;

    crypto_sign_keypair(pk, sk);
    b64(pk, sizeof pk, pk_b64, 64);
    rv = ctl_identity_save(path, sk);
    sodium_memzero(sk, sizeof sk);
    return rv;
}

/* mkdir -p with mode for every missing component. 0 or errno. */
static int make_dirs(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof buf)
        return ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return errno;
        buf[i] = i < n ? '/' : '\0';
    }
    return 0;
}

static void init_text(const json_t *d)
{
    printf("identity %s (%s)\n", json_string_value(json_object_get(d, "identity_path")),
           json_is_true(json_object_get(d, "created")) ? "created" : "kept");
    printf("public key %s\n", json_string_value(json_object_get(d, "public_key")));
    if (json_is_string(json_object_get(d, "registry")))
        printf("registry %s\n", json_string_value(json_object_get(d, "registry")));
    else
        printf("registry not configured (use --registry or PILOT_REGISTRY)\n");
}

static int cmd_init(int argc, char **argv)
{
    struct ctl_opt opts[] = {{.name = "--force"}};
    const char *pos[1];
    size_t np;
    char home[4096], idpath[4200], cfgpath[4200], pk_b64[64] = "";
    uint8_t sk[CL_SECRET_KEY_LEN], pk[32];
    struct cl_endpoint eps[CL_ENDPOINTS_MAX];
    size_t n_eps;
    char errmsg[REG_ERRMSG_SIZE];
    const char *registry = ctl_g.registry;
    struct stat st;
    bool created = false;
    json_t *data;
    int rv;

    rv = ctl_parse(argc, argv, opts, 1, pos, 0, 0, &np, init_usage);
    if (rv != CTL_EXIT_OK)
        return rv;
    if (registry == NULL)
        registry = getenv("PILOT_REGISTRY");
    if (registry != NULL &&
        cl_endpoints_parse(registry, eps, CL_ENDPOINTS_MAX, &n_eps, errmsg) != REG_OK)
        return ctl_usage(init_usage, "%s", errmsg);
    rv = ctl_home(home, sizeof home);
    if (rv != CTL_EXIT_OK)
        return rv;
    rv = make_dirs(home, 0700);
    if (rv != 0)
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot create %s: %s", home,
                        strerror(rv));
    snprintf(idpath, sizeof idpath, "%s/identity", home);
    snprintf(cfgpath, sizeof cfgpath, "%s/config.json", home);
    if (sodium_init() < 0)
        return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "libsodium failed to initialise");
    if (stat(idpath, &st) != 0 || opts[0].seen) {
        rv = create_identity(idpath, pk_b64);
        if (rv != CTL_EXIT_OK)
            return rv;
        created = true;
    } else {
        rv = ctl_identity_load(sk);
        if (rv != CTL_EXIT_OK)
            return rv;
        crypto_sign_ed25519_sk_to_pk(pk, sk);
        sodium_memzero(sk, sizeof sk);
        b64(pk, sizeof pk, pk_b64, sizeof pk_b64);
    }
    if (registry != NULL) {
        json_t *cfg = json_pack("{s:s}", "registry", registry);
        char *text = cfg != NULL ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
        int e = text != NULL ? ctl_write_file(cfgpath, text, 0644) : ENOMEM;
        free(text);
        json_decref(cfg);
        if (e != 0)
            return ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot write %s: %s", cfgpath,
                            strerror(e));
    } else if (ctl_registry(&registry) != CTL_EXIT_OK) {
        /* ctl_registry printed why; init still succeeded for the identity. */
        registry = NULL;
    }
    data = json_pack("{s:s, s:s, s:s, s:b}", "identity_path", idpath, "config_path", cfgpath,
                     "public_key", pk_b64, "created", created);
    if (data != NULL && registry != NULL)
        json_object_set_new(data, "registry", json_string(registry));
    return ctl_ok(data, init_text);
}

static void identity_text(const json_t *d)
{
    static const struct ctl_col cols[] = {
        {"public_key", "public key:"}, {"identity_path", "identity:"}, {"home", "home:"}};
    ctl_fields(d, cols, 3);
}

static int cmd_identity(int argc, char **argv)
{
    const char *pos[1];
    size_t np;
    char home[4096], idpath[4200], pk_b64[64];
    uint8_t sk[CL_SECRET_KEY_LEN], pk[32];
    int rv;

    rv = ctl_parse(argc, argv, NULL, 0, pos, 0, 0, &np, "pilotctl identity");
    if (rv == CTL_EXIT_OK)
        rv = ctl_home(home, sizeof home);
    if (rv == CTL_EXIT_OK)
        rv = ctl_identity_load(sk);
    if (rv != CTL_EXIT_OK)
        return rv;
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    sodium_memzero(sk, sizeof sk);
    b64(pk, sizeof pk, pk_b64, sizeof pk_b64);
    snprintf(idpath, sizeof idpath, "%s/identity", home);
    return ctl_ok(json_pack("{s:s, s:s, s:s}", "public_key", pk_b64, "identity_path", idpath,
                            "home", home),
                  identity_text);
}

int identity_main(int argc, char **argv)
{
    if (strcmp(argv[0], "init") == 0)
        return cmd_init(argc, argv);
    return cmd_identity(argc, argv);
}
