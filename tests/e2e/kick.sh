#!/usr/bin/env bash
# Seed "Networks": kick revokes access immediately and everywhere; the
# kicked agent cannot resolve or be resolved by former co-members unless
# they share trust, and cannot rejoin with the token until re-invited.
. "$(dirname "$0")/lib.sh"
start_cluster
agent owner
agent a
agent b
agent k

# b and k share bilateral trust from before (a handshake between
# co-members would be auto-approved, so it happens first).
ok k handshake "${ID[b]}" "keep in touch"
ok b approve "${ID[k]}"
ok owner network create --name team --join-rule token --token t0ken
NET=$(jq -r .data.network_id <<<"$OUT")
for x in a b k; do ok "$x" network join "$NET" --token t0ken; done
ok k resolve a
ok a resolve k

ok owner network kick "$NET" --node k
expect '.data.status == "kicked"'
# Immediately, on every node: ask each endpoint separately.
for i in 1 2 3; do
    REG=${EP[$i]} fails not_found k resolve a
    REG=${EP[$i]} fails not_found a resolve k
done
ok k resolve b
ok b resolve k
fails permission_denied k network join "$NET" --token t0ken
ok owner network members "$NET"
expect "[.data.members[].node_id] | index(${ID[k]}) == null"
# Re-invited, the kicked agent is back.
ok owner network invite "$NET" --node "${ID[k]}"
ok a resolve k
ok k network leave "$NET"
ok k network join "$NET" --token t0ken
e2e_log "ok"
