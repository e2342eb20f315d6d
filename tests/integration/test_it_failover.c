/* kill -9 of the leader: writes through the survivors succeed again within
 * a couple of election timeouts, and nothing acknowledged is missing. The
 * time to the first successful write after the kill is printed (a figure,
 * not a pass/fail threshold). The killed node then restarts and catches up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"

#define N_BEFORE 20
#define N_AFTER 20

static void test_leader_kill(void **state)
{
    struct it_cluster c;
    uint8_t sk[64];
    struct cl_client *cl, *admin;
    uint32_t ids[N_BEFORE + N_AFTER];
    uint64_t t0, first_ok = 0;
    int leader, next;
    unsigned i, n = 0;
    char name[32];
    (void)state;
    it_cluster_start(&c, 3);
    for (i = 0; i < N_BEFORE; i++) {
        cl = it_agent_client(&c, -1, sk);
        snprintf(name, sizeof name, "before-%u", i);
        assert_int_equal(it_register(cl, name, false, &ids[n]), REG_OK);
        n++;
        cl_close(cl);
    }
    leader = it_wait_leader(&c, 10000);
    assert_true(leader >= 0);
    it_node_kill(&c, (unsigned)leader);
    t0 = it_now_ms();
    for (i = 0; i < N_AFTER; i++) {
        cl = it_agent_client(&c, -1, sk);
        snprintf(name, sizeof name, "after-%u", i);
        assert_int_equal(it_register(cl, name, false, &ids[n]), REG_OK);
        if (first_ok == 0) {
            first_ok = it_now_ms() - t0;
        }
        n++;
        cl_close(cl);
    }
    printf("failover: first write acknowledged %llu ms after kill -9 of the leader "
           "(election timeout %u ms)\n", (unsigned long long)first_ok, IT_ELECTION_MS);
    next = it_wait_leader(&c, 10000);
    assert_true(next >= 0);
    assert_int_not_equal(next, leader);

    admin = it_admin_client(&c, -1);
    for (i = 0; i < n; i++) {
        assert_int_equal(it_lookup_admin(admin, ids[i]), REG_OK);
    }
    cl_close(admin);
    it_assert_converged(&c, 10000);

    it_node_restart(&c, (unsigned)leader);
    it_assert_converged(&c, 20000);
    admin = it_admin_client(&c, leader);
    for (i = 0; i < n; i++) {
        assert_int_equal(it_lookup_admin(admin, ids[i]), REG_OK);
    }
    cl_close(admin);
    it_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_kill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
