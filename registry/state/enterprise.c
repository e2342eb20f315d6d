/* enterprise.c: what enterprise networks add on top of membership: network
 * policy (allowed ports, max members, description), roles (promote /
 * demote), blueprints (a whole network declared in one command), and the
 * audit ring every enterprise change is written to.
 *
 * Policy applies to standard networks too (owner only there): allowed_ports
 * is what st_may_reach enforces, whatever the network kind.
 *
 * Blueprint choices the contract leaves to us:
 *   - roles name registered nodes; a node not yet a member is added (as an
 *     owner's invite would, clearing a kicked mark) before its role is set;
 *   - an ADMIN role needs an enterprise network; one OWNER entry at most,
 *     applied as a transfer (the old owner becomes admin unless the
 *     blueprint gives it another role); the resulting owner may not be
 *     named with a lesser role;
 *   - enterprise cannot be switched off by a blueprint (roles would be
 *     lost); an update keeps the stored token when none is given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

const char *const st__audit_actions[] = {
    "network.created",      "member.joined",   "member.left",
    "member.invited",       "member.kicked",   "member.promoted",
    "member.demoted",       "network.ownership_transferred",
    "network.policy_changed", "network.deleted", "network.blueprint_applied",
    "network.owner_lost",
};
const unsigned st__n_audit_actions = sizeof st__audit_actions / sizeof st__audit_actions[0];

void st__audit_push(struct st__net *net, const struct st__audit_rec *rec)
{
    if (net->audit_n == ST_AUDIT_MAX) {
        /* Full ring: overwrite the oldest record. */
        struct st__audit_rec *old = &net->audit[net->audit_start];
        reg_free(old->detail);
        *old = *rec;
        net->audit_start = (net->audit_start + 1) % ST_AUDIT_MAX;
        return;
    }
    st__grow((void **)&net->audit, &net->audit_cap, net->audit_n + 1, sizeof *net->audit);
    if (net->audit_n + 1 == ST_AUDIT_MAX && net->audit_cap != ST_AUDIT_MAX) {
        net->audit = reg_xrealloc(net->audit, ST_AUDIT_MAX * sizeof *net->audit);
        net->audit_cap = ST_AUDIT_MAX;
    }
    net->audit[net->audit_n++] = *rec;
}

void st__audit(struct st__net *net, const struct st_cmd *cmd, uint32_t actor, uint8_t action,
               uint32_t target, const char *fmt, ...)
{
    if (!net->enterprise) {
        return;
    }
    char detail[REG_ERRMSG_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    struct st__audit_rec rec = {
        .at = cmd->ts_ms,
        .origin = cmd->origin,
        .actor = cmd->caller_admin ? 0 : actor,
        .target = target,
        .detail = st__strdup(detail),
        .action = action,
    };
    st__audit_push(net, &rec);
}

/* ---- policy ------------------------------------------------------------------ */
int st__check_policy(const struct st__net *net, const struct st_policy *p, bool enterprise,
                     struct st_result *res)
{
    /* Seed "Networks": inside a standard network communication is
     * unrestricted; port policies are an enterprise control. max_members
     * and description are plain settings and allowed on both kinds. */
    if (p->has_allowed_ports && !enterprise) {
        return st__fail(res, REG_FAILED_PRECONDITION,
                        "port policies need an enterprise network (create it with --enterprise)");
    }
    if (p->has_allowed_ports) {
        if (p->n_ports > ST_PORTS_MAX) {
            return st__fail(res, REG_INVALID_ARGUMENT, "too many allowed ports (%u, max %d)",
                            (unsigned)p->n_ports, ST_PORTS_MAX);
        }
        for (uint16_t i = 0; i < p->n_ports; i++) {
            if (p->ports[i] == 0) {
                return st__fail(res, REG_INVALID_ARGUMENT, "allowed port 0: ports are 1-65535");
            }
        }
    }
    if (p->has_max_members) {
        if (p->max_members > ST_MAX_MEMBERS_LIMIT) {
            return st__fail(res, REG_INVALID_ARGUMENT, "max_members %u above %d",
                            (unsigned)p->max_members, ST_MAX_MEMBERS_LIMIT);
        }
        uint32_t have = net != NULL ? net->n_members : 0;
        if (p->max_members != 0 && p->max_members < have) {
            return st__fail(res, REG_FAILED_PRECONDITION, "max_members %u below current %u members",
                            (unsigned)p->max_members, (unsigned)have);
        }
    }
    if (p->has_description && !st__fits(p->description, sizeof p->description)) {
        return st__fail(res, REG_INVALID_ARGUMENT, "description longer than %d",
                        ST_DESCRIPTION_MAX);
    }
    return REG_OK;
}

static int port_cmp(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

void st__set_policy(struct st__net *net, const struct st_policy *p)
{
    if (p->has_allowed_ports) {
        uint16_t v[ST_PORTS_MAX];
        uint16_t n = 0;
        memcpy(v, p->ports, p->n_ports * sizeof *v);
        qsort(v, p->n_ports, sizeof *v, port_cmp);
        for (uint16_t i = 0; i < p->n_ports; i++) {
            if (n == 0 || v[n - 1] != v[i]) {
                v[n++] = v[i];
            }
        }
        reg_free(net->ports);
        net->ports = NULL;
        net->n_ports = n;
        if (n > 0) {
            net->ports = reg_xmalloc(n * sizeof *v);
            memcpy(net->ports, v, n * sizeof *v);
        }
    }
    if (p->has_max_members) {
        net->max_members = p->max_members;
    }
    if (p->has_description) {
        reg_free(net->description);
        net->description = p->description[0] != '\0' ? st__strdup(p->description) : NULL;
    }
}

/* Network of a policy / role command, or NULL with res set. */
static struct st__net *cmd_net(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                               struct st_result *res)
{
    if (caller == 0 && !cmd->caller_admin) {
        st__fail(res, REG_UNAUTHENTICATED, "caller is not a registered node");
        return NULL;
    }
    struct st__net *net = cmd->network != 0 ? st__net(s, cmd->network) : NULL;
    if (cmd->network == 0) {
        st__fail(res, REG_INVALID_ARGUMENT, "the backbone (network 0) cannot be changed");
    } else if (net == NULL) {
        st__fail(res, REG_NOT_FOUND, "network %u not found", (unsigned)cmd->network);
    }
    return net;
}

static bool is_owner(const struct st__net *net, const struct st_cmd *cmd, uint32_t caller)
{
    return cmd->caller_admin || (caller != 0 && caller == net->owner);
}

static void do_policy(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                      struct st_result *res)
{
    struct st__net *net = cmd_net(s, cmd, caller, res);
    if (net == NULL) {
        return;
    }
    res->network = net->id;
    const struct st__member *m = caller != 0 ? st__member(net, caller) : NULL;
    bool allowed = is_owner(net, cmd, caller) ||
                   (net->enterprise && m != NULL && m->role == ST_ROLE_ADMIN);
    if (!allowed) {
        st__fail(res, REG_PERMISSION_DENIED, "only the owner%s may set the policy",
                 net->enterprise ? " or an admin" : "");
        return;
    }
    const struct st_policy *p = &cmd->policy;
    if (!p->has_allowed_ports && !p->has_max_members && !p->has_description) {
        st__fail(res, REG_INVALID_ARGUMENT, "no policy field given");
        return;
    }
    if (st__check_policy(net, p, net->enterprise, res) != REG_OK) {
        return;
    }
    uint32_t old_max = net->max_members;
    uint16_t old_ports = net->n_ports;
    st__set_policy(net, p);
    st__audit(net, cmd, caller, ST__A_POLICY, 0,
              "old_max_members=%u, new_max_members=%u, old_ports=%u, new_ports=%u",
              (unsigned)old_max, (unsigned)net->max_members, (unsigned)old_ports,
              (unsigned)net->n_ports);
}

static void do_role(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                    struct st_result *res)
{
    struct st__net *net = cmd_net(s, cmd, caller, res);
    if (net == NULL) {
        return;
    }
    res->network = net->id;
    res->node = cmd->node;
    if (!is_owner(net, cmd, caller)) {
        st__fail(res, REG_PERMISSION_DENIED, "only the owner may change roles");
        return;
    }
    if (!net->enterprise) {
        st__fail(res, REG_FAILED_PRECONDITION, "roles need an enterprise network");
        return;
    }
    if (cmd->role != ST_ROLE_ADMIN && cmd->role != ST_ROLE_MEMBER) {
        st__fail(res, REG_INVALID_ARGUMENT, "role must be admin or member (owner: use transfer)");
        return;
    }
    struct st__member *m = st__member(net, cmd->node);
    if (m == NULL) {
        st__fail(res, REG_NOT_FOUND, "node %u is not a member", (unsigned)cmd->node);
        return;
    }
    if (m->role == ST_ROLE_OWNER) {
        st__fail(res, REG_INVALID_ARGUMENT, "cannot change the owner's role");
        return;
    }
    if (m->role == cmd->role) {
        st__fail(res, cmd->role == ST_ROLE_ADMIN ? REG_ALREADY_EXISTS : REG_FAILED_PRECONDITION,
                 cmd->role == ST_ROLE_ADMIN ? "already an admin" : "not an admin");
        return;
    }
    m->role = cmd->role;
    st__audit(net, cmd, caller, cmd->role == ST_ROLE_ADMIN ? ST__A_PROMOTED : ST__A_DEMOTED,
              cmd->node, "role=%s", cmd->role == ST_ROLE_ADMIN ? "admin" : "member");
}

/* ---- blueprint ------------------------------------------------------------------ */
struct bp_plan {
    struct st__net *net;      /* NULL: create */
    uint32_t owner;           /* owner after apply */
    uint32_t new_owner;       /* OWNER entry, 0 if none */
    uint32_t final_members;
};

static int bp_check_roles(const struct st_state *s, const struct st_blueprint *bp,
                          struct bp_plan *plan, struct st_result *res)
{
    uint32_t added = 0;
    for (uint32_t i = 0; i < bp->n_roles; i++) {
        const struct st_blueprint_role *r = &bp->roles[i];
        if (st__live(s, r->node) == NULL) {
            return st__fail(res, REG_NOT_FOUND, "blueprint role %u: node %u not found",
                            (unsigned)i, (unsigned)r->node);
        }
        if (r->role != ST_ROLE_MEMBER && r->role != ST_ROLE_ADMIN && r->role != ST_ROLE_OWNER) {
            return st__fail(res, REG_INVALID_ARGUMENT, "blueprint role %u: unknown role %u",
                            (unsigned)i, (unsigned)r->role);
        }
        if (r->role == ST_ROLE_ADMIN && !bp->enterprise) {
            return st__fail(res, REG_INVALID_ARGUMENT, "blueprint role %u: admins need enterprise",
                            (unsigned)i);
        }
        for (uint32_t j = 0; j < i; j++) {
            if (bp->roles[j].node == r->node) {
                return st__fail(res, REG_INVALID_ARGUMENT, "blueprint names node %u twice",
                                (unsigned)r->node);
            }
        }
        if (r->role == ST_ROLE_OWNER) {
            if (plan->new_owner != 0) {
                return st__fail(res, REG_INVALID_ARGUMENT, "blueprint names two owners");
            }
            plan->new_owner = r->node;
        }
        bool member = plan->net != NULL ? st__member(plan->net, r->node) != NULL
                                        : r->node == plan->owner;
        added += member ? 0 : 1;
    }
    if (plan->new_owner != 0) {
        plan->owner = plan->new_owner;
    }
    for (uint32_t i = 0; i < bp->n_roles; i++) {
        if (bp->roles[i].node == plan->owner && bp->roles[i].role != ST_ROLE_OWNER) {
            return st__fail(res, REG_INVALID_ARGUMENT,
                            "blueprint gives the owner %u a lesser role", (unsigned)plan->owner);
        }
    }
    plan->final_members += added;
    return REG_OK;
}

static int bp_check(const struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                    struct bp_plan *plan, struct st_result *res)
{
    const struct st_blueprint *bp = cmd->blueprint;
    if (bp == NULL) {
        return st__fail(res, REG_INVALID_ARGUMENT, "blueprint missing");
    }
    if (caller == 0 && !cmd->caller_admin) {
        return st__fail(res, REG_UNAUTHENTICATED, "caller is not a registered node");
    }
    if (!st__fits(bp->name, sizeof bp->name) || !st_valid_name(bp->name)) {
        return st__fail(res, REG_INVALID_ARGUMENT, "invalid network name in blueprint");
    }
    if (bp->join_rule > ST_JOIN_TOKEN || !st__fits(bp->token, sizeof bp->token)) {
        return st__fail(res, REG_INVALID_ARGUMENT, "invalid join rule or token in blueprint");
    }
    if (bp->join_rule != ST_JOIN_TOKEN && bp->token[0] != '\0') {
        return st__fail(res, REG_INVALID_ARGUMENT, "a token is only used with the token join rule");
    }
    if (bp->n_roles > ST_BLUEPRINT_ROLES_MAX || (bp->n_roles > 0 && bp->roles == NULL)) {
        return st__fail(res, REG_INVALID_ARGUMENT, "blueprint has %u roles (max %d)",
                        (unsigned)bp->n_roles, ST_BLUEPRINT_ROLES_MAX);
    }
    uint32_t id = st__net_find_name(s, bp->name);
    plan->net = id != 0 ? s->nets[id] : NULL;
    if (plan->net != NULL) {
        if (!is_owner(plan->net, cmd, caller)) {
            return st__fail(res, REG_PERMISSION_DENIED, "only the owner may update network %u",
                            (unsigned)id);
        }
        if (plan->net->enterprise && !bp->enterprise) {
            return st__fail(res, REG_FAILED_PRECONDITION, "enterprise cannot be switched off");
        }
        if (bp->join_rule == ST_JOIN_TOKEN && bp->token[0] == '\0' && !plan->net->has_token) {
            return st__fail(res, REG_INVALID_ARGUMENT, "the token join rule needs a token");
        }
        plan->owner = plan->net->owner;
        plan->final_members = plan->net->n_members;
    } else {
        if (bp->join_rule == ST_JOIN_TOKEN && bp->token[0] == '\0') {
            return st__fail(res, REG_INVALID_ARGUMENT, "the token join rule needs a token");
        }
        if (s->next_network_id > ST_MAX_NETWORK_ID) {
            return st__fail(res, REG_RESOURCE_EXHAUSTED, "network id space exhausted");
        }
        plan->owner = caller;
        plan->final_members = caller != 0 ? 1 : 0;
    }
    bool enterprise = bp->enterprise || (plan->net != NULL && plan->net->enterprise);
    if (st__check_policy(plan->net, &bp->policy, enterprise, res) != REG_OK) {
        return res->code;
    }
    if (bp_check_roles(s, bp, plan, res) != REG_OK) {
        return res->code;
    }
    uint32_t max = bp->policy.has_max_members ? bp->policy.max_members
                   : plan->net != NULL         ? plan->net->max_members
                                               : 0;
    if (max != 0 && plan->final_members > max) {
        return st__fail(res, REG_RESOURCE_EXHAUSTED, "blueprint needs %u members, max_members %u",
                        (unsigned)plan->final_members, (unsigned)max);
    }
    return REG_OK;
}

static void do_blueprint(struct st_state *s, const struct st_cmd *cmd, uint32_t caller,
                         struct st_result *res)
{
    struct bp_plan plan = {0};
    if (bp_check(s, cmd, caller, &plan, res) != REG_OK) {
        return;
    }
    const struct st_blueprint *bp = cmd->blueprint;
    struct st__net *net = plan.net;
    if (net == NULL) {
        struct st_cmd create = *cmd;
        struct st_result r;
        create.op = ST_CMD_NET_CREATE;
        memcpy(create.name, bp->name, sizeof create.name);
        memcpy(create.token, bp->token, sizeof create.token);
        create.join_rule = bp->join_rule;
        create.flag = bp->enterprise;
        memset(&r, 0, sizeof r);
        st__apply_net(s, &create, &r);
        net = s->nets[r.network];
        res->created = true;
    }
    net->join_rule = bp->join_rule;
    if (bp->join_rule != ST_JOIN_TOKEN) {
        net->has_token = false;
        memset(net->token_hash, 0, sizeof net->token_hash);
    } else if (bp->token[0] != '\0') {
        net->has_token = true;
        st__token_hash(net->id, bp->token, net->token_hash);
    }
    net->enterprise = net->enterprise || bp->enterprise;
    st__set_policy(net, &bp->policy);
    for (uint32_t i = 0; i < bp->n_roles; i++) {
        if (st__member(net, bp->roles[i].node) == NULL) {
            st__kicked_set(net, bp->roles[i].node, false);
            st__member_add(s, net, bp->roles[i].node, ST_ROLE_MEMBER);
        }
    }
    if (plan.new_owner != 0 && plan.new_owner != net->owner) {
        if (net->owner != 0) {
            st__member(net, net->owner)->role = ST_ROLE_ADMIN;
        }
        net->owner = plan.new_owner;
    }
    for (uint32_t i = 0; i < bp->n_roles; i++) {
        st__member(net, bp->roles[i].node)->role = bp->roles[i].role;
    }
    st__audit(net, cmd, caller, ST__A_BLUEPRINT, 0, "created=%s, join_rule=%u, roles=%u, owner=%u",
              res->created ? "true" : "false", (unsigned)net->join_rule, (unsigned)bp->n_roles,
              (unsigned)net->owner);
    res->network = net->id;
}

void st__apply_enterprise(struct st_state *s, const struct st_cmd *cmd, struct st_result *res)
{
    uint32_t caller = st__caller(s, cmd);
    switch (cmd->op) {
    case ST_CMD_NET_POLICY:
        do_policy(s, cmd, caller, res);
        break;
    case ST_CMD_NET_ROLE:
        do_role(s, cmd, caller, res);
        break;
    case ST_CMD_BLUEPRINT_APPLY:
        do_blueprint(s, cmd, caller, res);
        break;
    default:
        st__fail(res, REG_INVALID_ARGUMENT, "not an enterprise command");
        break;
    }
}
