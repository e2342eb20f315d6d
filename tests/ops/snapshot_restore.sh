#!/usr/bin/env bash
# Backup and restore: snapshot save from a live cluster (through the LB, a
# consistent snapshot on the leader), inspect offline, a corrupted copy is
# refused; restore into a NEW cluster (pristine data dirs, same addresses)
# gives the same state hash; a node that joins the restored cluster later
# ends with the same hash as the others.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
a=$OPS_TMP/old
cluster_up "$a" "$base" --nodes 3
export PILOT_REGISTRY=127.0.0.1:$base
export PILOT_ADMIN_TOKEN=$(cat "$a/admin.token")
ctl_ok init
ctl_ok --json register --hostname snap-a
na=$(echo "$OUT" | jq -r '.data.node_id')
ctl_ok network create --name snapnet
ctl_ok network list
for k in 1 2 3; do
  PILOT_HOME=$OPS_TMP/home$k "$PILOTCTL" init >/dev/null 2>&1 || fail "init $k"
  PILOT_HOME=$OPS_TMP/home$k "$PILOTCTL" register --hostname "snap-$k" >/dev/null 2>&1 || fail "register $k"
done

snap=$OPS_TMP/backup.snap
ctl_ok --json cluster snapshot save "$snap"
hash=$(echo "$OUT" | jq -r '.data.state_hash')
[ "$(echo "$OUT" | jq -r '.data.nodes')" = 4 ] || fail "snapshot should hold 4 agents: $OUT"
ctl_ok --json cluster snapshot inspect "$snap"
[ "$(echo "$OUT" | jq -r '.data.state_hash')" = "$hash" ] || fail "inspect hash differs: $OUT"
[ "$(echo "$OUT" | jq -r '.data.networks')" = 1 ] || fail "inspect networks: $OUT"
# The saved state is the cluster's state at that moment.
wait_for 10 converged "$base" 1 2 3 || fail "old cluster not converged"
[ "$(status_field "$base" 1 .state_hash)" = "$hash" ] || fail "snapshot hash != live state hash"

# A flipped byte is caught offline.
cp "$snap" "$OPS_TMP/bad.snap"
printf '\xff' | dd of="$OPS_TMP/bad.snap" bs=1 seek=200 conv=notrunc 2>/dev/null
ctl --json cluster snapshot inspect "$OPS_TMP/bad.snap"
[ "$RC" -ne 0 ] || fail "corrupted snapshot accepted"
grep -q checksum "$OPS_TMP/ctl.err" || fail "corruption not reported as a checksum error: $(cat "$OPS_TMP/ctl.err")"

# pilot-registry refuses to start from a corrupted backup, with the reason.
"$PILOT_REGISTRY_BIN" --id 1 --data-dir "$OPS_TMP/refused" --listen "127.0.0.1:$((base + 7))" \
  --raft "127.0.0.1:$((base + 107))" --cluster-key-file "$a/cluster.key" --bootstrap \
  --restore "$OPS_TMP/bad.snap" > "$OPS_TMP/refused.log" 2>&1 && fail "started from a corrupted backup"
grep -q 'checksum' "$OPS_TMP/refused.log" || fail "refusal does not name the checksum: $(cat "$OPS_TMP/refused.log")"

# Restore into a new cluster on the same addresses (the old one is gone).
"$PILOT_ROOT/deploy/down" --dir "$a" >/dev/null 2>&1 || fail "deploy/down old"
b=$OPS_TMP/new
cluster_up "$b" "$base" --nodes 3 --restore "$snap"
for i in 1 2 3; do
  wait_for 20 field_is "$base" "$i" .state_hash "$hash" \
    || fail "restored node $i hash $(status_field "$base" "$i" .state_hash) != $hash"
done
export PILOT_ADMIN_TOKEN=$(cat "$b/admin.token")
ctl_ok --json lookup "$na"
[ "$(echo "$OUT" | jq -r '.data.hostname')" = snap-a ] || fail "restored lookup: $OUT"
ctl_ok --json network list
echo "$OUT" | grep -q snapnet || fail "restored network missing: $OUT"
# The restored cluster takes writes.
ctl_ok set-hostname snap-a2

# A node joining later replays the log (restore entries included) and ends
# identical to the others.
c4=$((base + 8)); r4=$((base + 108)); h4=$((base + 208))
"$PILOT_REGISTRY_BIN" --id 4 --name node-4 --data-dir "$b/node4-data" --listen "127.0.0.1:$c4" \
  --raft "127.0.0.1:$r4" --http "127.0.0.1:$h4" --cluster-key-file "$b/cluster.key" \
  --admin-token-file "$b/admin.token" --join "127.0.0.1:$((base + 1))" > "$OPS_TMP/node4.log" 2>&1 &
OPS_PIDS+=($!)
wait_for 30 field_is "$base" 8 '.members | length' 4 \
  || fail "node 4 did not join"
wait_for 20 converged "$base" 1 2 3 8 || fail "joined node 4 differs: $(for i in 1 2 3 8; do status_field "$base" "$i" '"\(.applied_index) \(.state_hash)"'; done)"
ops_log "ok: save ($(stat -c %s "$snap") bytes, hash ${hash:0:12}), inspect, restore, late joiner identical"
