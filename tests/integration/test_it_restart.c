/* Stopping and restarting every node keeps every acknowledged write: the
 * state is rebuilt from raft's log and snapshots (threshold 64 in tests, so
 * snapshots are taken and restored too). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define N_WRITES 100

static void test_full_restart(void **state)
{
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *cl, *admin;
    uint32_t ids[N_WRITES];
    struct it_status st;
    unsigned i;
    char name[32];
    (void)state;
    it_cluster_start(&c, 3);
    for (i = 0; i < N_WRITES; i++) {
        cl = it_agent_client(&c, (int)(i % 3), sk);
        snprintf(name, sizeof name, "agent-%u", i);
        assert_int_equal(it_register(cl, name, i % 2 == 0, &ids[i]), REG_OK);
        cl_close(cl);
    }
    it_assert_converged(&c, 10000);
    for (i = 0; i < 3; i++) {
        it_node_stop(&c, i);
    }
    for (i = 0; i < 3; i++) {
        it_node_restart(&c, i);
    }
    assert_true(it_wait_leader(&c, 15000) >= 0);
    admin = it_admin_client(&c, -1);
    for (i = 0; i < N_WRITES; i++) {
        assert_int_equal(it_lookup_admin(admin, ids[i]), REG_OK);
    }
    cl_close(admin);
    it_assert_converged(&c, 10000);
    assert_int_equal(it_status(&c, 0, &st), REG_OK);
    printf("restart: %u writes present after a full restart, applied_index=%llu\n",
           N_WRITES, (unsigned long long)st.applied_index);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
