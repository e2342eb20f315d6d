/* proto_internal.h: helpers shared by the files of registry/proto and by
 * nothing else (the public API is proto.h). */
#ifndef PILOT_PROTO_INTERNAL_H
#define PILOT_PROTO_INTERNAL_H

#include "proto.h"

/* Big-endian integers of n bytes (n <= 8). */
void proto__put_be(uint8_t *p, uint64_t v, int n);
uint64_t proto__get_be(const uint8_t *p, int n);

/* A log entry of `kind` around payload (docs/protocol.md "Log entries"):
 * header, payload, zero padding to a multiple of 8, in memory from alloc.
 * REG_OK with *buf and *len set, or REG_NOMEM. */
int proto__log_frame(uint16_t kind, const void *payload, size_t payload_len,
                     proto_alloc_fn alloc, void **buf, size_t *len);
/* Check a log entry's length, magic, version, reserved field, payload
 * length and zero padding; any kind is accepted and returned with the
 * payload length. REG_OK or REG_MALFORMED with errmsg ("log entry: ..."). */
int proto__log_header(const void *buf, size_t len, uint16_t *kind, size_t *payload,
                      char errmsg[static REG_ERRMSG_SIZE]);

#endif /* PILOT_PROTO_INTERNAL_H */
