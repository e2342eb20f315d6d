/* fixture.c: runs the glue core on a raft_fixture server (tests/fixture).
 * The fixture owns struct raft and its in-memory io; glue only supplies the
 * FSM and, through glue_fixture_monitor called from raft_fixture_hook, the
 * same monitor the uv_prepare handle runs in production (notes §3.4). */
#include <string.h>

#include "glue_internal.h"

struct glue *glue_fixture_new(const struct glue_config *cfg, const struct glue_app *app)
{
    struct glue *g = reg_calloc(1, sizeof *g);

    if (g == NULL) {
        return NULL;
    }
    g->cfg = *cfg;
    glue__config_fill(&g->cfg);
    g->cfg.peers = NULL;
    g->cfg.n_peers = 0;
    g->cfg.data_dir = NULL;
    g->cfg.raft_address = NULL;
    g->app = *app;
    g->fixture = true;
    g->last_state = -1;
    glue__fsm_init(g);
    return g;
}

struct raft_fsm *glue_fixture_fsm(struct glue *g)
{
    return &g->fsm;
}

void glue_fixture_attach(struct glue *g, struct raft *r)
{
    g->r = r;
    g->id = r->id;
    r->data = g;
    glue__apply_settings(g);
    g->started = true;
    g->phase = GLUE__RUNNING;
}

void glue_fixture_monitor(struct glue *g)
{
    glue__monitor(g);
}

void glue_fixture_free(struct glue *g)
{
    if (g == NULL) {
        return;
    }
    g->shutting_down = true;
    glue__fail_queued(g, REG_UNAVAILABLE);
    glue__reads_fail(g, REG_UNAVAILABLE);
    glue__changes_fail(g, REG_UNAVAILABLE);
    /* raft_fixture_close already failed every raft request; anything left
     * was never handed to raft. */
    while (g->props != NULL) {
        struct glue__prop *p = g->props;
        g->props = p->next;
        for (unsigned i = 0; i < p->n; i++) {
            p->ops[i].cb(p->ops[i].data, REG_UNAVAILABLE, NULL, 0);
        }
        reg_free(p->ops);
        reg_free(p);
    }
    if (g->barrier != NULL) {
        reg_free(g->barrier);
    }
    reg_free(g);
}
