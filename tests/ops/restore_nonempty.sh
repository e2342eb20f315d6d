#!/usr/bin/env bash
# --restore never overwrites data: a node whose state already holds agents
# ignores the file (restarted with --restore by mistake), keeps its state
# and logs why.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
key=$OPS_TMP/key; tok=$OPS_TMP/token
head -c 32 /dev/urandom > "$key"; printf 'restore-test-token-0123' > "$tok"; chmod 600 "$key" "$tok"
node() { # extra flags...
  "$PILOT_REGISTRY_BIN" --id 1 --data-dir "$OPS_TMP/d1" --listen "127.0.0.1:$((base + 1))" \
    --raft "127.0.0.1:$((base + 101))" --http "127.0.0.1:$((base + 201))" \
    --cluster-key-file "$key" --admin-token-file "$tok" "$@" >> "$OPS_TMP/node1.log" 2>&1 &
  pid=$!
  OPS_PIDS+=($pid)
  wait_for 15 http_is "http://127.0.0.1:$((base + 201))/readyz/leader" 200 || fail "node did not lead"
}
stop() { kill -TERM "$pid"; wait_for 15 test ! -d "/proc/$pid" || fail "node did not stop"; }

# A one-node cluster with an agent; back it up, then write more.
node --bootstrap
export PILOT_REGISTRY=127.0.0.1:$((base + 1)) PILOT_ADMIN_TOKEN=$(cat "$tok")
PILOT_HOME=$OPS_TMP/a ctl_ok init
PILOT_HOME=$OPS_TMP/a ctl_ok register --hostname in-backup
ctl_ok cluster snapshot save "$OPS_TMP/b.snap"
PILOT_HOME=$OPS_TMP/b ctl_ok init
PILOT_HOME=$OPS_TMP/b ctl_ok register --hostname after-backup
# The node publishes its own cluster-member record once it leads; that is a
# state change too, so take the baseline only after it.
wait_for 10 grep -q 'member_record_published' "$OPS_TMP/node1.log" \
  || fail "member record never published"
before=$(status_field "$base" 1 .state_hash)
stop

node --bootstrap --restore "$OPS_TMP/b.snap"
wait_for 10 grep -q 'restore_proposer_done.*state not empty' "$OPS_TMP/node1.log" \
  || fail "no refusal logged: $(grep restore "$OPS_TMP/node1.log")"
[ "$(status_field "$base" 1 .state_hash)" = "$before" ] || fail "state changed by a refused restore"
PILOT_HOME=$OPS_TMP/b ctl_ok --json lookup "$(PILOT_HOME=$OPS_TMP/b "$PILOTCTL" --json whoami | jq -r '.data.node_id')"
[ "$(echo "$OUT" | jq -r '.data.hostname')" = after-backup ] || fail "later write lost: $OUT"
stop
ops_log "ok: --restore on a node with data is ignored; state unchanged"
