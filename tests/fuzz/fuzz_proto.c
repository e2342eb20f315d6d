/* fuzz_proto: libFuzzer harness for every registry/proto decoder. The
 * first input byte picks the decoder, the rest is its input; nothing may
 * crash, over-read or leak, and accepted commands must stay in bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void args_of(const struct proto_request *rq)
{
    char errmsg[REG_ERRMSG_SIZE];
    struct proto_arena arena;
    proto_arena_init(&arena);
    if (rq->opdef->kind == PROTO_OP_WRITE) {
        struct st_cmd cmd;
        memset(&cmd, 0, sizeof cmd);
        if (proto_cmd_args_decode(&rq->raw_args, rq->opdef->cmd, &cmd, &arena, errmsg) == REG_OK &&
            (strlen(cmd.hostname) > ST_HOSTNAME_MAX || cmd.n_tags > ST_TAGS_MAX)) {
            abort();
        }
    } else {
        struct proto_args a;
        (void)proto_args_decode(&rq->raw_args, rq->opdef, &a, errmsg);
    }
    proto_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char errmsg[REG_ERRMSG_SIZE];
    struct proto_arena arena;
    if (size < 1) {
        return 0;
    }
    uint8_t which = data[0];
    data++;
    size--;
    proto_arena_init(&arena);
    switch (which % 5) {
    case 0: {
        struct proto_reader r;
        const uint8_t *body;
        size_t len;
        proto_reader_init(&r, 4096);
        for (size_t off = 0; off < size; off += 7) {
            proto_reader_feed(&r, data + off, size - off < 7 ? size - off : 7);
            while (proto_reader_next(&r, &body, &len, errmsg) == REG_OK && body != NULL) {
            }
        }
        proto_reader_free(&r);
        break;
    }
    case 1: {
        struct proto_request rq;
        if (proto_request_decode(data, size, &rq, errmsg) == REG_OK) {
            args_of(&rq);
        }
        break;
    }
    case 2: {
        struct proto_response rs;
        struct st_node n;
        if (proto_response_decode(data, size, &rs, errmsg) == REG_OK && rs.has_result) {
            (void)proto_node_decode(&rs.result, &n, &arena, errmsg);
        }
        break;
    }
    case 3: {
        struct proto_hello h;
        struct proto_auth a;
        struct proto_welcome w;
        (void)proto_hello_decode(data, size, &h, errmsg);
        (void)proto_auth_decode(data, size, &a, errmsg);
        (void)proto_welcome_decode(data, size, &w, errmsg);
        break;
    }
    default: {
        struct proto_log_iter it;
        struct st_cmd cmd;
        uint64_t *copy = malloc(size + 8);
        if (copy != NULL) {
            memcpy(copy, data, size);
            if (proto_log_open(copy, size, &it, errmsg) == REG_OK) {
                while (proto_log_next(&it, &cmd, &arena, errmsg) != REG_NOT_FOUND) {
                }
            }
            free(copy);
        }
        break;
    }
    }
    proto_arena_free(&arena);
    return 0;
}
