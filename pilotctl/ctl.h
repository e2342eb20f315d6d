/* pilotctl internals shared by the command-group files (STYLE habit 14):
 * the global options, argument parsing, output (text tables or the stable
 * JSON envelope), error reporting with exit codes, the local identity and
 * config in $PILOT_HOME, and the client call wrappers.
 *
 * Every command group is one file exporting <group>_main(argc, argv), where
 * argv[0] is the command name and global options are already removed. It
 * returns the process exit code: CTL_EXIT_OK, CTL_EXIT_ERROR, CTL_EXIT_USAGE
 * or CTL_EXIT_UNREACHABLE. Only this layer prints (stdout for results,
 * stderr for errors and warnings).
 *
 * Prefix: ctl_. */
#ifndef PILOT_CTL_H
#define PILOT_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <msgpack.h>

#include "client.h"

enum ctl_exit {
    CTL_EXIT_OK = 0,
    CTL_EXIT_ERROR = 1,
    CTL_EXIT_USAGE = 2,
    CTL_EXIT_UNREACHABLE = 3,       /* cluster unreachable or no leader */
};

/* Global options, parsed once by main from anywhere in argv. */
struct ctl_globals {
    bool json;
    const char *registry;           /* --registry, else PILOT_REGISTRY, else config */
    const char *admin_token_file;   /* --admin-token-file */
    uint32_t timeout_ms;            /* --timeout SECONDS; 0 = library default */
    bool redirect;                  /* --redirect: ask followers to redirect */
};
extern struct ctl_globals ctl_g;

/* ---- Command groups (one file each) ---------------------------------------*/
int identity_main(int argc, char **argv);   /* init, whoami-local: see identity.c */
int agent_main(int argc, char **argv);      /* register, lookup, find, ... */
int network_main(int argc, char **argv);
int trust_main(int argc, char **argv);      /* handshake, pending, approve, ... */
int cluster_main(int argc, char **argv);
int daemon_main(int argc, char **argv);     /* daemon start|stop|status (pilot-agent) */
int dataplane_main(int argc, char **argv);  /* send, listen, connect via the daemon */

/* ---- Argument parsing -------------------------------------------------------*/
#define CTL_OPT_VALUES_MAX 16

struct ctl_opt {
    const char *name;               /* "--token" */
    bool has_arg;
    bool seen;                      /* out */
    size_t n;                       /* out: values given (repeatable options) */
    const char *vals[CTL_OPT_VALUES_MAX]; /* out */
};

/* Split argv[1..argc) into options (opts[], "--x v" or "--x=v") and
 * positionals (into pos[], at most max_pos, at least min_pos). Returns
 * CTL_EXIT_OK, or prints a usage error quoting the bad word and returns
 * CTL_EXIT_USAGE. `usage` is the one-line synopsis shown on error. */
int ctl_parse(int argc, char **argv, struct ctl_opt *opts, size_t n_opts, const char **pos,
              size_t min_pos, size_t max_pos, size_t *n_pos, const char *usage);
/* Last value of an option or NULL. */
const char *ctl_opt_val(const struct ctl_opt *o);
/* Parse a decimal unsigned in [min, max]; false on anything else. */
bool ctl_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* ---- Output -------------------------------------------------------------------*/
/* Renders data in text mode (data is the same object the JSON mode prints). */
typedef void (*ctl_text_fn)(const json_t *data);

/* Print success: {"status":"ok","data":data} in JSON mode, text(data) else.
 * Takes ownership of data (NULL = empty object). Returns CTL_EXIT_OK. */
int ctl_ok(json_t *data, ctl_text_fn text);
/* Print an error and return exit. code is a stable string (a REG_ERR_MAP
 * name or "usage"), hint may be NULL. JSON mode writes the error object on
 * stderr. */
int ctl_fail(int exit_code, const char *code, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Usage error (exit 2) quoting the synopsis. */
int ctl_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Error from a REG_* code: exit 3 for unavailable / no_leader / timeout, 1
 * otherwise; a default hint per code when hint is NULL. */
int ctl_fail_reg(int reg_code, const char *message, const char *hint);
void ctl_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Aligned table: columns are keys of the objects in rows, with headers.
 * Values: strings as-is, integers in decimal, booleans yes/no, null "-". */
struct ctl_col {
    const char *key;
    const char *header;
};
void ctl_table(const json_t *rows, const struct ctl_col *cols, size_t n_cols);
/* "key: value" lines for an object, in the order given. */
void ctl_fields(const json_t *obj, const struct ctl_col *cols, size_t n_cols);

/* A msgpack value as JSON: maps → objects (string keys), arrays → arrays,
 * bin → lowercase hex, nil → null. NULL on allocation failure. */
json_t *ctl_from_msgpack(const msgpack_object *o);
/* "YYYY-MM-DD HH:MM:SS" (UTC) of ms since epoch into buf (>= 20 bytes). */
void ctl_fmt_time(int64_t ms, char *buf, size_t cap);

/* ---- Home: identity and config ------------------------------------------------*/
/* $PILOT_HOME or ~/.pilot into buf. CTL_EXIT_OK or prints and fails. */
int ctl_home(char *buf, size_t cap);
/* Load the identity's secret key; warns when the file is readable by others.
 * Fails with a hint to run `pilotctl init` when missing. */
int ctl_identity_load(uint8_t sk[static CL_SECRET_KEY_LEN]);
/* Write content to path via a temporary file, fsync and rename, with mode.
 * 0 or an errno value. */
int ctl_write_file(const char *path, const char *content, mode_t mode);
/* Save an identity (secret key; public key derived) to path, mode 0600.
 * Prints on failure. */
int ctl_identity_save(const char *path, const uint8_t sk[static CL_SECRET_KEY_LEN]);
/* Endpoint list to use (flag > env > config), or fails with a hint. */
int ctl_registry(const char **out);

/* ---- Talking to the registry ------------------------------------------------------*/
enum ctl_auth {
    CTL_AUTH_AGENT,                 /* the identity in $PILOT_HOME (required) */
    CTL_AUTH_ADMIN,                 /* admin token (required) + identity if any */
    CTL_AUTH_ANY,                   /* identity if present, admin token if given */
};
/* The admin token from --admin-token-file or PILOT_ADMIN_TOKEN (trailing
 * whitespace trimmed). Prints and fails when neither is given. */
int ctl_admin_token(char *buf, size_t cap);
/* Open a client with the endpoints and credentials. Prints on failure. */
int ctl_connect(enum ctl_auth auth, struct cl_client **out);
/* cl_call; on any non-OK answer prints the error (hint may be NULL for the
 * default) and returns its exit code; CTL_EXIT_OK otherwise. */
int ctl_call(struct cl_client *cl, const struct cl_request *req, struct cl_response *resp,
             const char *hint);
/* The result map of a successful answer as a JSON object (never NULL on
 * success; an empty object when the answer has none). */
json_t *ctl_result_json(const struct cl_response *resp);
/* A write on an open client: cmd is sent as op st_cmd_name(cmd->op); on
 * success res holds the decoded result (zeroed if the answer had none).
 * Prints errors; returns the exit code. */
int ctl_write(struct cl_client *cl, const struct st_cmd *cmd, struct st_result *res,
              const char *hint);
/* A read or server op; on success *out owns the result as JSON. */
int ctl_read(struct cl_client *cl, const char *op, const struct proto_args *a, json_t **out,
             const char *hint);
/* Node argument: a decimal node id, a Pilot address, or a hostname resolved
 * through the registry. Prints on failure. */
int ctl_node_arg(struct cl_client *cl, const char *arg, uint32_t *node);
/* Target of a write (handshake, approve, invite, kick...): a node id or
 * address into cmd->node, or a hostname into cmd->hostname for the registry
 * to resolve at apply time (it may name a private agent). Prints on failure. */
int ctl_target_arg(const char *arg, struct st_cmd *cmd);

#endif /* PILOT_CTL_H */
