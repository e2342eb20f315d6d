#!/usr/bin/env bash
# Seed "Networks" (enterprise): roles, port policy, audit, blueprints.
. "$(dirname "$0")/lib.sh"
start_cluster
agent boss
agent adm
agent m1
agent m2

ok boss network create --name prod --join-rule invite --enterprise
expect '.data.enterprise == true'
NET=$(jq -r .data.network_id <<<"$OUT")
ok boss network invite "$NET" --node "${ID[adm]}"
ok boss network role "$NET" --node adm --role admin
expect '.data.role == "admin"'
# Admins invite and kick members; they cannot kick the owner.
ok adm network invite "$NET" --node "${ID[m1]}"
ok adm network invite "$NET" --node "${ID[m2]}"
fails permission_denied m1 network invite "$NET" --node boss
fails permission_denied adm network kick "$NET" --node boss
ok adm network kick "$NET" --node m2
# Only the owner promotes.
fails permission_denied adm network role "$NET" --node m1 --role admin
# Port policy: set, then show.
ok adm network policy "$NET" --set allowed_ports=80,443,1001 --set max_members=50 \
    --set "description=production fleet"
ok m1 network policy "$NET"
expect '.data.allowed_ports == [80, 443, 1001] and .data.max_members == 50 and .data.description == "production fleet"'
fails permission_denied m1 network policy "$NET" --set max_members=3
fails usage m1 network policy "$NET" --set allowed_ports=0
# Audit: owner/admins see the changes, newest first.
ok boss network audit "$NET" --limit 50
expect '.data.records | length >= 5'
fails permission_denied m1 network audit "$NET"
# Roles need an enterprise network.
ok boss network create --name plain --join-rule open
PLAIN=$(jq -r .data.network_id <<<"$OUT")
ok m1 network join "$PLAIN"
fails failed_precondition boss network role "$PLAIN" --node "${ID[m1]}" --role admin
# Blueprint round trip: export, change, apply as one entry.
ok boss network blueprint export "$NET"
jq '.data | .name = "prod2" | .policy.description = "copy"' <<<"$OUT" >"$E2E_DIR/bp.json"
ok boss network blueprint apply "$E2E_DIR/bp.json"
expect '.data.status == "created"'
NET2=$(jq -r .data.network_id <<<"$OUT")
ok boss network policy "$NET2"
expect '.data.description == "copy" and .data.enterprise == true'
echo '{"name": "bad", "join_rule": "sometimes"}' >"$E2E_DIR/bad.json"
fails invalid_argument boss network blueprint apply "$E2E_DIR/bad.json"
# Ownership transfer.
ok boss network transfer "$NET" --node adm
ok adm network delete "$NET"
# Port policies are enterprise-only; a standard network refuses one and its
# owner may still cap membership.
ok boss network create --name plain-std
PLAIN=$(jq -r .data.network_id <<<"$OUT")
fails failed_precondition boss network policy "$PLAIN" --set allowed_ports=80
ok boss network policy "$PLAIN" --set max_members=5
e2e_log "ok"
