#!/usr/bin/env bash
# Seed "Networks": membership is not transitive. A-B share network 1, B-C
# share network 2: A cannot resolve C (nor C A); B reaches both.
. "$(dirname "$0")/lib.sh"
start_cluster
agent a
agent b
agent c

ok a network create --name one --join-rule open
N1=$(jq -r .data.network_id <<<"$OUT")
ok c network create --name two --join-rule open
N2=$(jq -r .data.network_id <<<"$OUT")
ok b network join "$N1"
ok b network join "$N2"
ok a resolve b
ok b resolve a
ok b resolve c
ok c resolve b
fails not_found a resolve c
fails not_found c resolve a
fails not_found a find c
# A public node is reachable by everyone.
ok c set-public
ok a resolve c
ok c set-private
fails not_found a resolve c
e2e_log "ok"
