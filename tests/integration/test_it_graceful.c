/* SIGTERM on the leader hands leadership over before the process exits
 * (clean exit 0), so the cluster keeps a leader and writes continue; the
 * time from SIGTERM to the next acknowledged write is printed. The stopped
 * node then restarts and catches up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

static void test_sigterm_leader(void **state)
{
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *cl, *admin;
    struct it_status st;
    uint32_t ids[2];
    uint64_t t0, stop_ms, write_ms;
    int leader, next;
    unsigned i;
    (void)state;
    it_cluster_start(&c, 3);
    cl = it_agent_client(&c, -1, sk);
    assert_int_equal(it_register(cl, "before-stop", true, &ids[0]), REG_OK);
    cl_close(cl);
    leader = it_wait_leader(&c, 10000);
    assert_true(leader >= 0);
    t0 = it_now_ms();
    it_node_stop(&c, (unsigned)leader); /* asserts exit status 0 */
    stop_ms = it_now_ms() - t0;
    cl = it_agent_client(&c, -1, sk);
    assert_int_equal(it_register(cl, "after-stop", true, &ids[1]), REG_OK);
    write_ms = it_now_ms() - t0;
    cl_close(cl);
    printf("graceful: leader exited %llu ms after SIGTERM, next write acknowledged after "
           "%llu ms (election timeout %u ms)\n",
           (unsigned long long)stop_ms, (unsigned long long)write_ms, IT_ELECTION_MS);
    next = it_wait_leader(&c, 10000);
    assert_true(next >= 0 && next != leader);
    assert_int_equal(it_status(&c, (unsigned)next, &st), REG_OK);
    assert_true(st.ready);

    it_node_restart(&c, (unsigned)leader);
    it_assert_converged(&c, 20000);
    admin = it_admin_client(&c, leader);
    for (i = 0; i < 2; i++) {
        assert_int_equal(it_lookup_admin(admin, ids[i]), REG_OK);
    }
    cl_close(admin);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
