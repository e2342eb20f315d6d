#!/usr/bin/env bash
# /livez, /readyz, /readyz/leader and /status on a healthy cluster; then a
# node whose two peers are stopped (a minority of one) stops being ready
# while /livez still answers.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
dir=$OPS_TMP/cluster
cluster_up "$dir" "$base" --nodes 3
h() { echo "http://127.0.0.1:$(http_port_of "$base" "$1")$2"; }

leaders=0
for i in 1 2 3; do
  wait_for 10 http_is "$(h "$i" /readyz)" 200 || fail "node $i never ready"
  [ "$(http_code "$(h "$i" /livez)")" = 200 ] || fail "node $i /livez"
  [ "$(http_code "$(h "$i" /readyz/leader)")" = 200 ] && leaders=$((leaders + 1))
  [ "$(http_code "$(h "$i" /nope)")" = 404 ] || fail "unknown path should be 404"
done
[ "$leaders" = 1 ] || fail "$leaders nodes answer /readyz/leader 200 (want 1)"

# /status carries what operators look for (member records are published
# by each node shortly after the first leader exists).
all_published() { field_is "$base" 1 '[.members[] | select(.client_addr != "")] | length' 3; }
wait_for 10 all_published || fail "member addresses not published"
st=$(curl -s -m 2 "$(h 1 /status)")
for k in id name role term leader.id leader.client_addr commit_index applied_index state_hash version; do
  v=$(echo "$st" | jq -r ".$k")
  [ -n "$v" ] && [ "$v" != null ] || fail "/status lacks $k: $st"
done
[ "$(echo "$st" | jq '.members | length')" = 3 ] || fail "/status members: $st"
[ "$(echo "$st" | jq '[.members[] | select(.role == "voter" and .client_addr != "" and .raft_addr != "")] | length')" = 3 ] \
  || fail "/status member roles/addresses: $st"

# Isolate node 1: stop the other two (by the PIDs deploy/up recorded).
for i in 2 3; do
  kill -TERM "$(cat "$dir/node$i/pid")"
done
wait_for 10 http_is "$(h 1 /readyz)" 503 || fail "isolated node 1 still ready"
[ "$(http_code "$(h 1 /readyz/leader)")" = 503 ] || fail "isolated node 1 claims leadership"
[ "$(http_code "$(h 1 /livez)")" = 200 ] || fail "/livez must not depend on quorum"
ops_log "isolated node: $(curl -s -m 2 "$(h 1 /readyz)")"
# Bring one peer back: quorum again, ready again.
PILOT_REGISTRY_BIN=$PILOT_REGISTRY_BIN "$PILOT_ROOT/deploy/up" --dir "$dir" > "$OPS_TMP/up2.out" 2>&1 \
  || fail "deploy/up (resume) failed"
wait_for 15 http_is "$(h 1 /readyz)" 200 || fail "node 1 not ready after peers returned"
ops_log "ok: readiness follows quorum, liveness does not"
