/* test_proto_fill.h: for any op of the table, arguments in which every
 * schema field holds a non-default, maximum-length value. Shared by
 * test_proto_codec.c and test_proto_fuzz.c (header-only, static). */
#ifndef PILOT_TEST_PROTO_FILL_H
#define PILOT_TEST_PROTO_FILL_H

#include <string.h>

#include "proto.h"

struct fill {
    struct st_cmd cmd;
    struct proto_args args;
    struct st_online online[3];
    struct st_blueprint bp;
    struct st_blueprint_role roles[2];
};

static void fill_str(char *dst, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = (char)('a' + (i + salt) % 26);
    }
    dst[n] = '\0';
}

static void fill_policy(struct st_policy *p, unsigned kind)
{
    if (kind == PROTO_F_PORTS) {
        p->has_allowed_ports = true;
        p->n_ports = ST_PORTS_MAX;
        for (uint16_t i = 0; i < ST_PORTS_MAX; i++) {
            p->ports[i] = (uint16_t)(1 + i * 601);
        }
    } else if (kind == PROTO_F_MAX_MEMBERS) {
        p->has_max_members = true;
        p->max_members = ST_MAX_MEMBERS_LIMIT;
    } else {
        p->has_description = true;
        fill_str(p->description, ST_DESCRIPTION_MAX, 3);
    }
}

static void fill_member(struct st_cluster_member *m, bool full)
{
    m->raft_id = 0xFEDCBA9876543210ull;
    if (full) {
        fill_str(m->name, ST_CLUSTER_NAME_MAX, 1);
        fill_str(m->raft_addr, ST_ADDR_MAX, 2);
        fill_str(m->client_addr, ST_ADDR_MAX, 3);
        fill_str(m->http_addr, ST_ADDR_MAX, 4);
    }
}

/* Fill the fields op's schema names, in f->cmd (writes) or f->args. */
static void fill_op(struct fill *f, const struct proto_op *op, unsigned salt)
{
    memset(f, 0, sizeof *f);
    uint8_t *base = op->kind == PROTO_OP_WRITE ? (uint8_t *)&f->cmd : (uint8_t *)&f->args;
    f->cmd.op = op->cmd;
    f->cmd.client = 0x1122334455667788ull + salt;
    f->cmd.seq = 42 + salt;
    f->cmd.caller_admin = salt % 2 == 1;
    memset(f->cmd.caller_key, 0xC0 + (int)(salt % 16), ST_KEY_LEN);
    for (uint8_t i = 0; i < op->n_fields; i++) {
        const struct proto_field *fd = &op->fields[i];
        void *p = base + fd->offset;
        switch (fd->kind) {
        case PROTO_F_U32: *(uint32_t *)p = fd->max != 0 ? fd->max : 0xF0000000u + salt + i; break;
        case PROTO_F_NETWORK: *(uint32_t *)p = ST_MAX_NETWORK_ID - salt % 7; break;
        case PROTO_F_PORT: *(uint32_t *)p = 65535; break;
        case PROTO_F_U64: *(uint64_t *)p = UINT64_MAX - salt; break;
        case PROTO_F_BOOL: *(bool *)p = true; break;
        case PROTO_F_STR: fill_str(p, fd->max, salt + i); break;
        case PROTO_F_KEY: memset(p, 0x5A, ST_KEY_LEN); break;
        case PROTO_F_JOIN_RULE: *(uint8_t *)p = ST_JOIN_TOKEN; break;
        case PROTO_F_ROLE: *(uint8_t *)p = ST_ROLE_ADMIN; break;
        case PROTO_F_PORTS: case PROTO_F_MAX_MEMBERS: case PROTO_F_DESCRIPTION:
            fill_policy(p, fd->kind);
            break;
        case PROTO_F_MEMBER: fill_member(p, true); break;
        case PROTO_F_MEMBER_ID: fill_member(p, false); break;
        case PROTO_F_TAGS:
            f->cmd.n_tags = ST_TAGS_MAX;
            for (int t = 0; t < ST_TAGS_MAX; t++) {
                fill_str(f->cmd.tags[t], ST_TAG_MAX, salt + (unsigned)t);
            }
            break;
        case PROTO_F_ONLINE:
            for (uint32_t k = 0; k < 3; k++) {
                f->online[k].node = 100 + k;
                f->online[k].online = k != 1;
            }
            f->cmd.online = f->online;
            f->cmd.n_online = 3;
            break;
        case PROTO_F_BLUEPRINT:
            fill_str(f->bp.name, ST_NETNAME_MAX, salt);
            f->bp.join_rule = ST_JOIN_INVITE;
            fill_str(f->bp.token, ST_TOKEN_MAX, salt);
            f->bp.enterprise = true;
            fill_policy(&f->bp.policy, PROTO_F_PORTS);
            fill_policy(&f->bp.policy, PROTO_F_DESCRIPTION);
            f->roles[0].node = 7;
            f->roles[0].role = ST_ROLE_ADMIN;
            f->roles[1].node = 8;
            f->roles[1].role = ST_ROLE_MEMBER;
            f->bp.roles = f->roles;
            f->bp.n_roles = 2;
            f->cmd.blueprint = &f->bp;
            break;
        default: break;
        }
    }
}

static bool blueprint_equal(const struct st_blueprint *a, const struct st_blueprint *b)
{
    struct st_blueprint x, y;
    if (a == NULL || b == NULL) {
        return a == b;
    }
    if (a->n_roles != b->n_roles ||
        (a->n_roles > 0 && memcmp(a->roles, b->roles, a->n_roles * sizeof *a->roles) != 0)) {
        return false;
    }
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    x.roles = y.roles = NULL;
    return memcmp(&x, &y, sizeof x) == 0;
}

static bool cmd_equal(const struct st_cmd *a, const struct st_cmd *b)
{
    struct st_cmd x, y;
    if (a->n_online != b->n_online ||
        (a->n_online > 0 && memcmp(a->online, b->online, a->n_online * sizeof *a->online) != 0)) {
        return false;
    }
    if (!blueprint_equal(a->blueprint, b->blueprint)) {
        return false;
    }
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    x.online = y.online = NULL;
    x.blueprint = y.blueprint = NULL;
    return memcmp(&x, &y, sizeof x) == 0;
}

#endif /* PILOT_TEST_PROTO_FILL_H */
