#!/usr/bin/env bash
# Type=notify: pilot-registry sends READY=1 to $NOTIFY_SOCKET once its client
# listener accepts connections (a lone founding node of a three-node
# cluster, so never in quorum), and STOPPING=1 when it begins to stop.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
sock=$OPS_TMP/notify.sock
python3 - "$sock" > "$OPS_TMP/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
got = []
while "STOPPING=1" not in got:
    got.append(s.recv(4096).decode())
    print(got[-1], flush=True)
PY
OPS_PIDS+=($!)
wait_for 5 test -S "$sock" || fail "receiver socket not created"
head -c 32 /dev/urandom > "$OPS_TMP/key"; chmod 600 "$OPS_TMP/key"
NOTIFY_SOCKET=$sock "$PILOT_REGISTRY_BIN" --id 1 --data-dir "$OPS_TMP/d1" \
  --listen "127.0.0.1:$((base + 1))" --raft "127.0.0.1:$((base + 101))" --http "127.0.0.1:$((base + 201))" \
  --initial-cluster "1=127.0.0.1:$((base + 101)),2=127.0.0.1:$((base + 102)),3=127.0.0.1:$((base + 103))" \
  --cluster-key-file "$OPS_TMP/key" > "$OPS_TMP/node1.log" 2>&1 &
pid=$!
OPS_PIDS+=($pid)
has() { grep -qx "$1" "$OPS_TMP/notify.out"; }
wait_for 10 has READY=1 || fail "no READY=1 from a listening node"
# READY meant listening, not ready for traffic: no quorum, so /readyz fails.
[ "$(http_code "http://127.0.0.1:$((base + 201))/readyz")" = 503 ] || fail "/readyz should be 503 without quorum"
python3 -c "import socket; socket.create_connection(('127.0.0.1', $((base + 1))), 2)" || fail "client port not accepting"
has STOPPING=1 && fail "STOPPING before stop"
kill -TERM "$pid"
wait_for 15 has STOPPING=1 || fail "no STOPPING=1 on SIGTERM"
wait_for 15 test ! -d "/proc/$pid" || fail "node did not exit"
ops_log "ok: READY=1 when listening (without quorum), STOPPING=1 on SIGTERM"
