#!/usr/bin/env bash
# Seed "Networks": invite-only network where only admins add agents, by node
# id, Pilot address or hostname.
. "$(dirname "$0")/lib.sh"
start_cluster
agent owner
agent worker1
agent worker2
agent worker3
agent outsider

ok owner network create --name fleet --join-rule invite
NET=$(jq -r .data.network_id <<<"$OUT")
fails permission_denied worker1 network join "$NET"
ok owner network invite "$NET" --node "${ID[worker1]}"
expect '.data.status == "invited"'
ADDR=$(printf '0:0000.%04X.%04X' $((ID[worker2] >> 16)) $((ID[worker2] & 0xFFFF)))
ok owner network invite "$NET" --node "$ADDR"
ok owner network invite "$NET" --node worker3   # by hostname: worker3 is private
expect ".data.node_id == ${ID[worker3]}"
# A plain member of a standard network cannot add others.
fails permission_denied worker1 network invite "$NET" --node "${ID[outsider]}"
ok owner network members "$NET"
expect '.data.members | length == 4'
ok worker1 resolve worker3
ok worker3 resolve "${ID[worker1]}"
fails not_found outsider resolve worker1
# Members may leave.
ok worker3 network leave "$NET"
fails not_found worker1 resolve worker3
e2e_log "ok"
