#!/usr/bin/env bash
# Seed "Trust": untrust removes the peer from both sides' trusted lists and
# revokes resolution immediately.
. "$(dirname "$0")/lib.sh"
start_cluster
agent a
agent b

ok a handshake "${ID[b]}" "hi"
ok b approve "${ID[a]}"
ok a resolve b
ok a untrust "${ID[b]}"
expect ".data.node_id == ${ID[b]}"
ok a trust
expect '.data.trusted | length == 0'
ok b trust
expect '.data.trusted | length == 0'
for i in 1 2 3; do
    REG=${EP[$i]} fails not_found a resolve b
    REG=${EP[$i]} fails not_found b resolve a
done
fails not_found a untrust "${ID[b]}"
e2e_log "ok"
