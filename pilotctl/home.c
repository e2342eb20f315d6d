/* pilotctl home: the local identity and configuration in $PILOT_HOME
 * (default ~/.pilot), and the atomic file writes they need.
 *
 * identity (mode 0600): JSON {"version":1, "public_key":"<b64>",
 * "secret_key":"<b64 of the 64-byte libsodium Ed25519 secret key>"}.
 * config.json: {"registry":"H:P,H:P"}. The registry list is taken from
 * --registry, then PILOT_REGISTRY, then config.json. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "ctl.h"

static const char hint_init[] = "run `pilotctl init --registry HOST:PORT[,HOST:PORT...]` first";

int ctl_home(char *buf, size_t cap)
{
    const char *h = getenv("PILOT_HOME");
    int w;

    if (h != NULL && h[0] != '\0') {
        w = snprintf(buf, cap, "%s", h);
    } else {
        const char *home = getenv("HOME");
        if (home == NULL || home[0] == '\0') {
            struct passwd *pw = getpwuid(getuid());
            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL)
            return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", "set PILOT_HOME",
                            "cannot find a home directory");
        w = snprintf(buf, cap, "%s/.pilot", home);
    }
    if (w < 0 || (size_t)w >= cap)
        return ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "PILOT_HOME is too long");
    return CTL_EXIT_OK;
}

static bool b64_decode(const char *s, uint8_t *out, size_t want)
{
    size_t got = 0;

    if (s == NULL)
        return false;
    if (sodium_base642bin(out, want, s, strlen(s), NULL, &got, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return got == want;
}

int ctl_identity_load(uint8_t sk[static CL_SECRET_KEY_LEN])
{
    char home[4096], path[4200];
    struct stat st;
    json_error_t jerr;
    json_t *root = NULL;
    uint8_t pk[32], derived[32];
    int rv;

    rv = ctl_home(home, sizeof home);
    if (rv != CTL_EXIT_OK)
        return rv;
    snprintf(path, sizeof path, "%s/identity", home);
    rv = CTL_EXIT_ERROR;
    if (stat(path, &st) != 0) {
        ctl_fail(CTL_EXIT_ERROR, "not_found", hint_init, "no identity at %s", path);
        goto err;
    }
    if ((st.st_mode & 077) != 0)
        ctl_warn("identity file %s is readable by others (mode %03o); run chmod 600 %s", path,
                 (unsigned)(st.st_mode & 0777), path);
    root = json_load_file(path, 0, &jerr);
    if (root == NULL) {
        ctl_fail(CTL_EXIT_ERROR, "invalid_argument", NULL, "identity %s: %s (line %d)", path,
                 jerr.text, jerr.line);
        goto err;
    }
    if (!b64_decode(json_string_value(json_object_get(root, "secret_key")), sk,
                    CL_SECRET_KEY_LEN) ||
        !b64_decode(json_string_value(json_object_get(root, "public_key")), pk, 32) ||
        crypto_sign_ed25519_sk_to_pk(derived, sk) != 0 || sodium_memcmp(pk, derived, 32) != 0) {
        sodium_memzero(sk, CL_SECRET_KEY_LEN);
        ctl_fail(CTL_EXIT_ERROR, "invalid_argument",
                 "restore the file from a backup, or `pilotctl init --force` for a new identity",
                 "identity %s is damaged (bad or mismatched keys)", path);
        goto err;
    }
    rv = CTL_EXIT_OK;
err:
    json_decref(root);
    return rv;
}

int ctl_registry(const char **out)
{
    static char from_config[4096];
    char home[4096], path[4200];
    json_t *root;
    const char *v;

    if (ctl_g.registry != NULL && ctl_g.registry[0] != '\0') {
        *out = ctl_g.registry;
        return CTL_EXIT_OK;
    }
    v = getenv("PILOT_REGISTRY");
    if (v != NULL && v[0] != '\0') {
        *out = v;
        return CTL_EXIT_OK;
    }
    if (ctl_home(home, sizeof home) != CTL_EXIT_OK)
        return CTL_EXIT_ERROR;
    snprintf(path, sizeof path, "%s/config.json", home);
    root = json_load_file(path, 0, NULL);
    v = json_string_value(json_object_get(root, "registry"));
    if (v != NULL && v[0] != '\0' && strlen(v) < sizeof from_config) {
        snprintf(from_config, sizeof from_config, "%s", v);
        json_decref(root);
        *out = from_config;
        return CTL_EXIT_OK;
    }
    json_decref(root);
    return ctl_fail(CTL_EXIT_USAGE, "usage",
                    "pass --registry HOST:PORT[,HOST:PORT...], set PILOT_REGISTRY, or run "
                    "`pilotctl init --registry ...`",
                    "no registry endpoint configured");
}

int ctl_write_file(const char *path, const char *content, mode_t mode)
{
    char tmp[4300];
    size_t len = strlen(content);
    int fd, saved;

    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return errno;
    if (write(fd, content, len) != (ssize_t)len || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        saved = errno != 0 ? errno : EIO;
        close(fd);
        unlink(tmp);
        return saved;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        return saved;
    }
    return 0;
}

int ctl_identity_save(const char *path, const uint8_t sk[static CL_SECRET_KEY_LEN])
{
    uint8_t pk[32];
    char pk_b64[64], sk_b64[128];
    char *text = NULL;
    json_t *j;
    int e, rv = CTL_EXIT_ERROR;

    crypto_sign_ed25519_sk_to_pk(pk, sk);
    sodium_bin2base64(pk_b64, sizeof pk_b64, pk, sizeof pk, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(sk_b64, sizeof sk_b64, sk, CL_SECRET_KEY_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    j = json_pack("{s:i, s:s, s:s}", "version", 1, "public_key", pk_b64, "secret_key", sk_b64);
    if (j != NULL)
        text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (text == NULL) {
        ctl_fail(CTL_EXIT_ERROR, "nomem", NULL, "out of memory");
        goto out;
    }
    e = ctl_write_file(path, text, 0600);
    sodium_memzero(text, strlen(text));
    free(text);
    if (e != 0) {
        ctl_fail(CTL_EXIT_ERROR, "internal", NULL, "cannot write %s: %s", path, strerror(e));
        goto out;
    }
    rv = CTL_EXIT_OK;
out:
    sodium_memzero(sk_b64, sizeof sk_b64);
    return rv;
}
