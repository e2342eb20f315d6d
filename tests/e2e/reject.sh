#!/usr/bin/env bash
# Seed "Trust": reject with a reason; the requester is not trusted and sees
# the rejection.
. "$(dirname "$0")/lib.sh"
start_cluster
agent a
agent b

ok a handshake "${ID[b]}" "please"
ok b reject "${ID[a]}" "not today"
expect ".data.status == \"rejected\" and .data.node_id == ${ID[a]}"
ok b pending
expect '.data.pending | length == 0'
ok a pending
expect ".data.rejected | length == 1 and .[0].node_id == ${ID[b]} and .[0].reason == \"not today\""
ok a trust
expect '.data.trusted | length == 0'
fails not_found a resolve b
e2e_log "ok"
