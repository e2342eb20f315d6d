#!/usr/bin/env bash
# The same commands pointed at a follower, at a list whose first endpoint is
# down, after the leader dies; and the CLI contract: exit 3 when nothing
# answers, exit 2 on usage errors, --json anywhere in argv.
. "$(dirname "$0")/lib.sh"
start_cluster
agent a
agent b

L=$(leader_index) || fail "no leader found in cluster status"
F=$(( L % 3 + 1 ))
ok a cluster status
expect '.data.members | length == 3'
expect '[.data.members[] | select(.state == "leader")] | length == 1'
# Writes and reads through a follower (forwarded).
REG=${EP[$F]} ok a network create --name via-follower --join-rule open
NET=$(jq -r .data.network_id <<<"$OUT")
REG=${EP[$F]} ok b network join "$NET"
REG=${EP[$F]} ok a resolve b
# Redirect mode: the follower answers not_leader and the client follows.
run a --redirect network members "$NET"
[ "$RC" -eq 0 ] || fail "redirect mode failed"
# First endpoint down.
DEAD=$(free_ports 1)
# a and b are co-members now: a handshake by hostname resolves and is
# auto-approved, recorded with the network.
REG="127.0.0.1:$DEAD,$EPS" ok a handshake b "through a list"
expect '.data.status == "approved"'
REG="127.0.0.1:$DEAD,$EPS" ok b trust
expect ".data.trusted[0].network == $NET"
# Leadership transfer needs the admin token.
run a cluster transfer --to "$F"
[ "$RC" -eq 2 ] || fail "cluster transfer without the admin token must be a usage error"
ok a --admin-token-file "$E2E_DIR/admin.token" cluster transfer --to "$F"
for k in $(seq 1 40); do
    [ "$(leader_index)" = "$F" ] && break
    sleep 0.25
done
[ "$(leader_index)" = "$F" ] || fail "leadership did not move to node $F"
L=$F
# Lose the leader: the remaining two elect a new one; commands keep working.
stop_node "$L"
REG="$EPS" ok a --timeout 20 network members "$NET"
REG="$EPS" ok b network leave "$NET"
# Membership changes are admin only, and the cluster refuses to shrink
# below three voters.
echo "not-the-admin-token-0123" >"$E2E_DIR/bad.token"
chmod 600 "$E2E_DIR/bad.token"
fails unauthenticated a cluster remove "$L" --admin-token-file "$E2E_DIR/bad.token"
fails failed_precondition a --admin-token-file "$E2E_DIR/admin.token" cluster remove "$L"
ok a cluster status
expect ".data.members | length == 3 and ([.[] | select(.raft_id == $L)][0].state == \"unreachable\")"
# Nothing answers: exit 3.
REG="127.0.0.1:$DEAD" run a --timeout 2 whoami
[ "$RC" -eq 3 ] || fail "expected exit 3 when unreachable, got $RC"
[ "$(jq -r .code <<<"$ERR")" = "unavailable" ] || fail "expected code unavailable"
# Usage errors: exit 2, --json anywhere.
OUT=$(PILOT_HOME="$E2E_DIR/home/a" "$PILOTCTL" network create --json 2>&1)
RC=$?
[ "$RC" -eq 2 ] || fail "expected exit 2 for a usage error, got $RC"
run a resolve "NOT A HOST"
[ "$RC" -eq 1 ] || fail "bad node argument must exit 1"
# Quorum lost: cluster status still shows every node's own view, from the
# endpoint list since the cluster cannot name its members.
for i in 1 2 3; do
    if [ "$i" -ne "$L" ]; then
        stop_node "$i"
        break
    fi
done
run a --timeout 5 cluster status
[ "$RC" -eq 0 ] || fail "cluster status must work without a leader"
expect '.data.members_known == false and (.data.members | length == 3) and ([.data.members[] | select(.error == null)] | length == 1)'
run a --timeout 3 network list
[ "$RC" -eq 3 ] || fail "expected exit 3 without a leader, got $RC"
e2e_log "ok"
