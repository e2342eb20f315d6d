#!/usr/bin/env bash
# Seed "Networks": deleting a network removes every member association; the
# agents keep their backbone registration and their bilateral trust.
. "$(dirname "$0")/lib.sh"
start_cluster
agent owner
agent a
agent b

ok a handshake "${ID[b]}" "outside the network too"
ok b approve "${ID[a]}"
ok owner network create --name temp --join-rule open
NET=$(jq -r .data.network_id <<<"$OUT")
ok a network join "$NET"
ok b network join "$NET"
fails permission_denied a network delete "$NET"
ok owner network delete "$NET"
expect '.data.status == "deleted"'
fails not_found owner network members "$NET"
ok a network list
expect "[.data.networks[] | select(.network_id == $NET)] | length == 0"
# Backbone registration kept.
ok a whoami
expect ".data.node_id == ${ID[a]}"
ok a lookup "${ID[a]}"
expect ".data.node_id == ${ID[a]}"
# Trust kept: a and b still resolve each other; owner no longer reaches a.
ok a resolve b
ok b resolve a
ok a trust
expect "[.data.trusted[].node_id] | index(${ID[b]}) != null"
fails not_found owner resolve a
e2e_log "ok"
