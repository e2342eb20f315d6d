#!/usr/bin/env bash
# Recovery from quorum loss (docs/operations.md): two of three nodes are
# lost for good; the survivor restarted with --force-new-cluster keeps its
# data and becomes a one-node cluster that serves every acknowledged write
# it had; new nodes (new ids, empty data) join it and converge.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
dir=$OPS_TMP/cluster
cluster_up "$dir" "$base" --nodes 3
export PILOT_REGISTRY=127.0.0.1:$base
export PILOT_ADMIN_TOKEN=$(cat "$dir/admin.token")
ids=()
for k in $(seq 1 8); do
  PILOT_HOME=$OPS_TMP/a$k "$PILOTCTL" init >/dev/null 2>&1 || fail "init $k"
  out=$(PILOT_HOME=$OPS_TMP/a$k "$PILOTCTL" --json register --hostname "acked-$k" 2>&1) || fail "register $k: $out"
  ids+=("$(echo "$out" | jq -r '.data.node_id')")
done
ctl_ok init
PILOT_HOME=$OPS_TMP/a1 ctl_ok network create --name survivors
wait_for 10 converged "$base" 1 2 3 || fail "not converged before the loss"
want=$(status_field "$base" 1 .state_hash)

# Lose nodes 2 and 3 for good (kill -9, data wiped): no quorum.
for i in 2 3; do
  kill -KILL "$(cat "$dir/node$i/pid")"
  rm -rf "$dir/node$i/data"
done
wait_for 10 http_is "http://127.0.0.1:$(http_port_of "$base" 1)/readyz" 503 || fail "survivor still ready without quorum"
PILOT_HOME=$OPS_TMP/a2 ctl --timeout 3 set-hostname during-outage
[ "$RC" -ne 0 ] || fail "a write succeeded without quorum"

# Recovery: stop the survivor, restart it alone with --force-new-cluster.
kill -TERM "$(cat "$dir/node1/pid")"
wait_for 15 test ! -d "/proc/$(cat "$dir/node1/pid")" || fail "survivor did not stop"
"$PILOT_REGISTRY_BIN" --id 1 --name node-1 --data-dir "$dir/node1/data" \
  --listen "127.0.0.1:$((base + 1))" --raft "127.0.0.1:$((base + 101))" --http "127.0.0.1:$((base + 201))" \
  --cluster-key-file "$dir/cluster.key" --admin-token-file "$dir/admin.token" --force-new-cluster \
  > "$OPS_TMP/survivor.log" 2>&1 &
OPS_PIDS+=($!)
wait_for 20 http_is "http://127.0.0.1:$((base + 201))/readyz/leader" 200 || fail "survivor did not become a ready leader"
[ "$(status_field "$base" 1 .state_hash)" = "$want" ] || fail "survivor state differs from before the loss"
[ "$(status_field "$base" 1 '[.members[] | select(.role == "voter")] | length')" = 1 ] || fail "survivor is not a one-node cluster"
for k in $(seq 1 8); do
  PILOT_HOME=$OPS_TMP/a$k ctl_ok --json --registry "127.0.0.1:$((base + 1))" lookup "${ids[$((k - 1))]}"
  [ "$(echo "$OUT" | jq -r '.data.hostname')" = "acked-$k" ] || fail "acknowledged write $k lost: $OUT"
done
PILOT_HOME=$OPS_TMP/a1 ctl_ok --registry "127.0.0.1:$((base + 1))" set-hostname after-recovery

# Grow back: two NEW nodes (ids 4 and 5, empty data dirs) join the survivor.
for i in 4 5; do
  "$PILOT_REGISTRY_BIN" --id "$i" --name "node-$i" --data-dir "$OPS_TMP/node$i" \
    --listen "127.0.0.1:$((base + i))" --raft "127.0.0.1:$((base + 100 + i))" --http "127.0.0.1:$((base + 200 + i))" \
    --cluster-key-file "$dir/cluster.key" --admin-token-file "$dir/admin.token" \
    --join "127.0.0.1:$((base + 1))" > "$OPS_TMP/node$i.log" 2>&1 &
  OPS_PIDS+=($!)
  wait_for 30 field_is "$base" 1 '[.members[] | select(.role == "voter")] | length' $((i - 2)) \
    || fail "node $i did not join as a voter"
done
wait_for 20 converged "$base" 1 4 5 || fail "rejoined nodes differ"
PILOT_HOME=$OPS_TMP/a1 ctl_ok --json --registry "127.0.0.1:$((base + 4))" lookup "${ids[0]}"
[ "$(echo "$OUT" | jq -r '.data.hostname')" = after-recovery ] || fail "write after recovery not seen via node 4: $OUT"
ops_log "ok: survivor kept all 8 acknowledged agents; two new nodes joined and converged"
