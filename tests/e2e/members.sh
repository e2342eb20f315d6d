#!/usr/bin/env bash
# Seed "Networks": `network members` shows address, node id, hostname,
# endpoint and online status for every member; text output is a table.
. "$(dirname "$0")/lib.sh"
start_cluster
agent alice
agent bob

ok alice network create --name lab --join-rule open
NET=$(jq -r .data.network_id <<<"$OUT")
ok bob network join "$NET"
ok bob network members "$NET"
expect '.data.members | length == 2'
expect "[.data.members[] | select(.node_id == ${ID[alice]})][0] | (.hostname == \"alice\" and (.endpoint | length > 0) and has(\"online\") and (.address | test(\"^$NET:[0-9A-F]{4}[.][0-9A-F]{4}[.][0-9A-F]{4}$\")))"
expect '[.data.members[].role] | sort == ["member", "owner"]'
TEXT=$(PILOT_HOME="$E2E_DIR/home/bob" "$PILOTCTL" --registry "$EPS" network members "$NET") ||
    fail "text members failed"
grep -q '^ADDRESS  *NODE ID  *HOSTNAME  *ENDPOINT  *ONLINE' <<<"$TEXT" || fail "no table header: $TEXT"
grep -q 'alice' <<<"$TEXT" || fail "alice missing from table"
# Non-members may not list members.
agent eve
fails permission_denied eve network members "$NET"
ok alice network list
expect "[.data.networks[] | select(.name == \"lab\")] | length == 1"
e2e_log "ok"
