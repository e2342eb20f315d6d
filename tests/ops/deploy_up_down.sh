#!/usr/bin/env bash
# deploy/up from nothing to a working cluster behind HAProxy, pilotctl through
# the load balancer, deploy/down leaves no process and keeps the data, and
# deploy/up again resumes the same cluster with its data.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
dir=$OPS_TMP/cluster
cluster_up "$dir" "$base" --nodes 3
grep -q "export PILOT_REGISTRY=127.0.0.1:$base" "$OPS_TMP/up.out" || fail "no export line in deploy/up output"
[ -n "$(leader_of "$base" 3)" ] || fail "no leader after deploy/up"

export PILOT_REGISTRY=127.0.0.1:$base
export PILOT_ADMIN_TOKEN=$(cat "$dir/admin.token")
ctl_ok init
ctl_ok --json register --hostname ops-up
node=$(echo "$OUT" | jq -r '.data.node_id')
[ -n "$node" ] && [ "$node" != null ] || fail "register gave no node id: $OUT"
ctl_ok --json cluster status
[ "$(echo "$OUT" | jq '[.data.members[] | select(.leader_id > 0 and .error == null)] | length')" = 3 ] \
  || fail "cluster status does not show three members with a leader: $OUT"
for i in 1 2 3; do
  [ "$(http_code "http://127.0.0.1:$(http_port_of "$base" "$i")/readyz")" = 200 ] || fail "node $i not ready"
done

pids=$(cat "$dir"/node*/pid "$dir/haproxy.pid")
"$PILOT_ROOT/deploy/down" --dir "$dir" > "$OPS_TMP/down.out" 2>&1 || fail "deploy/down failed"
for p in $pids; do
  [ -d "/proc/$p" ] && fail "process $p still running after deploy/down"
done
for i in 1 2 3; do
  [ -d "$dir/node$i/data/raft" ] || fail "node $i data gone after deploy/down"
done
[ "$(http_code "http://127.0.0.1:$(http_port_of "$base" 1)/livez")" = 000 ] || fail "node 1 still answers"

cluster_up "$dir" "$base"
grep -q "resuming" "$OPS_TMP/up.out" || fail "second deploy/up did not resume"
wait_for 20 "$PILOTCTL" lookup "$node" || fail "registered node $node lost across down/up"
ctl_ok --json lookup "$node"
[ "$(echo "$OUT" | jq -r '.data.hostname')" = ops-up ] || fail "hostname lost: $OUT"
ops_log "ok: up, pilotctl via LB at 127.0.0.1:$base, down (no process left, data kept), up resumed"
