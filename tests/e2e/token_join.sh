#!/usr/bin/env bash
# Seed "Networks": token-gated create and self-join with right and wrong token.
. "$(dirname "$0")/lib.sh"
start_cluster
agent alice
agent bob
agent carol

ok alice network create --name research-lab --join-rule token --token my-secret
expect '.data.network_id >= 1 and .data.join_rule == "token" and .data.status == "created"'
NET=$(jq -r .data.network_id <<<"$OUT")

fails permission_denied bob network join "$NET" --token wrong-secret
fails permission_denied carol network join "$NET"
ok bob network join "$NET" --token my-secret
expect '.data.status == "joined"'
ok alice network members "$NET"
expect "[.data.members[].node_id] | sort == ([${ID[alice]}, ${ID[bob]}] | sort)"
# A wrong token changed nothing: carol is still outside.
ok carol network list
fails not_found carol resolve alice
ok bob resolve alice
expect ".data.node_id == ${ID[alice]}"
# Duplicate names are refused.
fails already_exists carol network create --name research-lab --join-rule token --token x
e2e_log "ok"
