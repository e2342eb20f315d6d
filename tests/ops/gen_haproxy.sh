#!/usr/bin/env bash
# pilotctl cluster gen-haproxy writes a valid HAProxy configuration from the
# live membership (every member's client address, health check on its HTTP
# port); the generated leader-only config, run by HAProxy, routes pilotctl
# to the cluster.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
dir=$OPS_TMP/cluster
cluster_up "$dir" "$base" --nodes 3
export PILOT_REGISTRY=127.0.0.1:$((base + 1))
ctl_ok init
ctl_ok register --hostname gen
all_published() { field_is "$base" 1 '[.members[] | select(.http_addr != "")] | length' 3; }
wait_for 10 all_published || fail "member addresses not published"

for mode in ready leader; do
  lb=$((base + 9))
  ctl_ok cluster gen-haproxy --mode "$mode" --bind "127.0.0.1:$lb" --output "$OPS_TMP/$mode.cfg"
  haproxy -c -f "$OPS_TMP/$mode.cfg" > "$OPS_TMP/check.out" 2>&1 || { cat "$OPS_TMP/check.out" >&2; fail "haproxy -c rejects the $mode config"; }
  for i in 1 2 3; do
    grep -q "server node-$i 127.0.0.1:$((base + i)) check port $((base + 200 + i))" "$OPS_TMP/$mode.cfg" \
      || fail "$mode config lacks node $i: $(cat "$OPS_TMP/$mode.cfg")"
  done
done
grep -q 'GET /readyz/leader' "$OPS_TMP/leader.cfg" || fail "leader config does not check /readyz/leader"
grep -q 'GET /readyz$' "$OPS_TMP/ready.cfg" || fail "ready config does not check /readyz"
ctl cluster gen-haproxy --mode bogus
[ "$RC" = 2 ] || fail "bad --mode should be a usage error (rc $RC)"

haproxy -f "$OPS_TMP/leader.cfg" -D -p "$OPS_TMP/haproxy.pid" || fail "haproxy did not start"
OPS_PIDS+=("$(cat "$OPS_TMP/haproxy.pid")")
ok_via_lb() { PILOT_REGISTRY=127.0.0.1:$((base + 9)) "$PILOTCTL" --timeout 3 whoami; }
wait_for 15 ok_via_lb || fail "pilotctl through the generated leader-only HAProxy failed"
ops_log "ok: generated ready/leader configs valid; leader-only LB serves pilotctl"
