/* wire.c: the data-plane packet format, its crypto and the replay window
 * (layout drawn in agent.h).
 *
 * Keys come from the two agents' long-term Ed25519 identities (converted to
 * X25519), so both ends derive the pair key without a handshake round trip;
 * the registry vouches for which key belongs to which node id. Because the
 * key is the same across restarts, nonces are random 24-byte XChaCha
 * nonces (never counters), and replay protection uses the separate,
 * clock-anchored seq of the header. */
#include <string.h>

#include <sodium.h>

#include "agent.h"

static const char pair_label[] = "pilot-dataplane-v1";

int agent_pair_key(const uint8_t my_sk[static 64], const uint8_t peer_pk[static AGENT_KEY_LEN],
                   uint8_t out[static AGENT_KEY_LEN])
{
    uint8_t my_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t x_sk[crypto_scalarmult_BYTES], x_pk[crypto_scalarmult_BYTES];
    uint8_t shared[crypto_scalarmult_BYTES];
    crypto_generichash_state st;
    const uint8_t *lo, *hi;
    int rv = REG_INVALID_ARGUMENT;

    crypto_sign_ed25519_sk_to_pk(my_pk, my_sk);
    if (crypto_sign_ed25519_pk_to_curve25519(x_pk, peer_pk) != 0) {
        goto out;
    }
    crypto_sign_ed25519_sk_to_curve25519(x_sk, my_sk);
    if (crypto_scalarmult(shared, x_sk, x_pk) != 0) {
        goto err_after_sk;
    }
    /* Both ends hash the two public keys in the same order. */
    lo = memcmp(my_pk, peer_pk, AGENT_KEY_LEN) < 0 ? my_pk : peer_pk;
    hi = lo == my_pk ? peer_pk : my_pk;
    crypto_generichash_init(&st, shared, sizeof shared, AGENT_KEY_LEN);
    crypto_generichash_update(&st, (const uint8_t *)pair_label, sizeof pair_label);
    crypto_generichash_update(&st, lo, AGENT_KEY_LEN);
    crypto_generichash_update(&st, hi, AGENT_KEY_LEN);
    crypto_generichash_final(&st, out, AGENT_KEY_LEN);
    rv = REG_OK;
    sodium_memzero(shared, sizeof shared);
err_after_sk:
    sodium_memzero(x_sk, sizeof x_sk);
out:
    return rv;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return ((uint32_t)get16(p) << 16) | get16(p + 2);
}

size_t agent_pkt_seal(const struct agent_pkt *p, const uint8_t key[static AGENT_KEY_LEN],
                      uint8_t *buf, size_t cap)
{
    unsigned long long clen = 0;
    size_t need = AGENT_PKT_HDR + p->payload_len + AGENT_PKT_TAG;
    if (p->payload_len > AGENT_PKT_PAYLOAD_MAX || cap < need) {
        return 0;
    }
    buf[0] = 'P';
    buf[1] = 'D';
    buf[2] = 1;
    buf[3] = p->type;
    put32(buf + 4, p->src);
    put32(buf + 8, p->dst);
    put16(buf + 12, p->port);
    put16(buf + 14, p->flags);
    put32(buf + 16, p->conn);
    put32(buf + 20, p->pseq);
    put32(buf + 24, (uint32_t)(p->seq >> 32));
    put32(buf + 28, (uint32_t)p->seq);
    randombytes_buf(buf + 32, AGENT_PKT_NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + AGENT_PKT_HDR, &clen, p->payload,
                                               p->payload_len, buf, AGENT_PKT_HDR, NULL,
                                               buf + 32, key);
    return AGENT_PKT_HDR + (size_t)clen;
}

int agent_pkt_peek(const uint8_t *buf, size_t len, struct agent_pkt *p)
{
    memset(p, 0, sizeof *p);
    if (len < AGENT_PKT_HDR + AGENT_PKT_TAG || len > AGENT_PKT_MAX || buf[0] != 'P' ||
        buf[1] != 'D' || buf[2] != 1 || buf[3] < AGENT_PKT_DGRAM || buf[3] > AGENT_PKT_FIN) {
        return REG_MALFORMED;
    }
    p->type = buf[3];
    p->src = get32(buf + 4);
    p->dst = get32(buf + 8);
    p->port = get16(buf + 12);
    p->flags = get16(buf + 14);
    p->conn = get32(buf + 16);
    p->pseq = get32(buf + 20);
    p->seq = ((uint64_t)get32(buf + 24) << 32) | get32(buf + 28);
    p->payload_len = len - AGENT_PKT_HDR - AGENT_PKT_TAG;
    return REG_OK;
}

int agent_pkt_open(uint8_t *buf, size_t len, const uint8_t key[static AGENT_KEY_LEN],
                   struct agent_pkt *p)
{
    unsigned long long mlen = 0;
    int rv = agent_pkt_peek(buf, len, p);
    if (rv != REG_OK) {
        return rv;
    }
    /* Decrypt in place: libsodium allows m == c for the AEAD constructions. */
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(buf + AGENT_PKT_HDR, &mlen, NULL,
                                                   buf + AGENT_PKT_HDR, len - AGENT_PKT_HDR,
                                                   buf, AGENT_PKT_HDR, buf + 32, key) != 0) {
        return REG_UNAUTHENTICATED;
    }
    p->payload = buf + AGENT_PKT_HDR;
    p->payload_len = (size_t)mlen;
    return REG_OK;
}

bool agent_replay_accept(struct agent_replay *w, uint64_t seq)
{
    uint64_t d;
    if (seq == 0) {
        return false;
    }
    if (seq > w->top) {
        d = seq - w->top;
        w->bits = d >= 64 ? 0 : w->bits << d;
        w->bits |= 1;
        w->top = seq;
        return true;
    }
    d = w->top - seq;
    if (d >= 64 || (w->bits & (1ull << d)) != 0) {
        return false;
    }
    w->bits |= 1ull << d;
    return true;
}
