/* registry/client internals shared by its files: the client struct and the
 * connection layer (conn.c) the retry loop (client.c) drives. */
#ifndef PILOT_CL_INTERNAL_H
#define PILOT_CL_INTERNAL_H

#include "client.h"

struct cl_client {
    struct cl_endpoint eps[CL_ENDPOINTS_MAX];
    size_t n_eps;
    size_t cur;                     /* endpoint to try next */
    bool has_key;
    uint8_t sk[CL_SECRET_KEY_LEN];
    bool has_admin;
    char admin[CL_ADMIN_TOKEN_MAX + 1];
    uint32_t connect_timeout_ms, attempt_timeout_ms, deadline_ms;
    uint32_t backoff_initial_ms, backoff_max_ms;
    bool redirect;
    uint64_t client_id;
    uint64_t next_seq;
    uint64_t next_id;               /* request id */
    /* Connection. */
    int fd;                         /* -1 when disconnected */
    char connected_to[CL_HOST_MAX + 8];
    uint64_t server_raft_id;
    uint32_t node_id;               /* from welcome */
    struct proto_reader reader;
};

/* Monotonic milliseconds. */
uint64_t cl__now_ms(void);
/* Connect to ep and run the handshake, all before deadline (monotonic ms).
 * REG_OK (cl->fd set), REG_UNAVAILABLE (cannot connect / closed / timed
 * out), REG_UNAUTHENTICATED (refused; message in errmsg), REG_MALFORMED,
 * REG_NOMEM. On error the client is disconnected. */
int cl__connect(struct cl_client *cl, const struct cl_endpoint *ep, uint64_t deadline,
                char errmsg[static REG_ERRMSG_SIZE]);
/* Write all bytes before deadline. REG_OK or REG_UNAVAILABLE. */
int cl__send(struct cl_client *cl, const void *buf, size_t len, uint64_t deadline,
             char errmsg[static REG_ERRMSG_SIZE]);
/* Next frame body before deadline (valid until the next recv). REG_OK,
 * REG_TIMEOUT, REG_UNAVAILABLE (closed), REG_TOO_LARGE / REG_MALFORMED. */
int cl__recv(struct cl_client *cl, uint64_t deadline, const uint8_t **body, size_t *len,
             char errmsg[static REG_ERRMSG_SIZE]);
void cl__disconnect(struct cl_client *cl);

#endif /* PILOT_CL_INTERNAL_H */
