#!/usr/bin/env bash
# pilotctl through HAProxy keeps working while the leader is killed (-9):
# commands may wait for the new leader but succeed within a few seconds.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
dir=$OPS_TMP/cluster
cluster_up "$dir" "$base" --nodes 3
export PILOT_REGISTRY=127.0.0.1:$base
ctl_ok init
ctl_ok --json register --hostname before-kill
node=$(echo "$OUT" | jq -r '.data.node_id')

leader=$(leader_of "$base" 3) || fail "no leader"
lpid=$(cat "$dir/node$leader/pid")
ops_log "killing leader node $leader (pid $lpid)"
kill -KILL "$lpid"
t0=$(date +%s%N)
# A write and a linearizable read through the LB, right away.
ctl_ok --json --timeout 15 set-hostname after-kill
t1=$(date +%s%N)
ctl_ok --json --timeout 15 lookup "$node"
[ "$(echo "$OUT" | jq -r '.data.hostname')" = after-kill ] || fail "write lost: $OUT"
ms=$(( (t1 - t0) / 1000000 ))
ops_log "first write after the leader kill succeeded in ${ms} ms"
[ "$ms" -lt 10000 ] || fail "write took ${ms} ms after the leader kill"
new=$(leader_of "$base" 3) || fail "no new leader"
[ "$new" != "$leader" ] || fail "killed node still leads"
# Further commands keep working (HAProxy has marked the dead node down).
for k in 1 2 3 4 5; do
  ctl_ok --timeout 15 lookup "$node"
done
ops_log "ok: writes and reads through the LB survived the leader kill; new leader node $new"
