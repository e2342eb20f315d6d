# tests/ops/lib.sh: harness of the operations tests (issue 6). Sourced by
# each scenario; clusters are made with the real deploy/up (HAProxy in
# front, data under a temporary directory, ports from a free base) and
# stopped with deploy/down; anything else started here is stopped by PID.
# Every wait is bounded.
#
# Environment (set by ctest): PILOTCTL, PILOT_REGISTRY_BIN, PILOT_ROOT.
set -u
: "${PILOTCTL:?}" "${PILOT_REGISTRY_BIN:?}" "${PILOT_ROOT:?}"
export PILOTCTL PILOT_REGISTRY_BIN

OPS_NAME=$(basename "$0" .sh)
OPS_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pilot-ops.XXXXXX")
OPS_DIRS=()     # cluster dirs to deploy/down
OPS_PIDS=()     # extra processes
OPS_FAILED=0
export PILOT_HOME=$OPS_TMP/home

ops_log() { printf '[%s] %s\n' "$OPS_NAME" "$*" >&2; }

ops_cleanup() {
  local d pid i
  for pid in "${OPS_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${OPS_PIDS[@]}"; do
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for d in "${OPS_DIRS[@]}"; do
    "$PILOT_ROOT/deploy/down" --dir "$d" >/dev/null 2>&1 || true
  done
  if [ "$OPS_FAILED" -ne 0 ]; then
    for f in "$OPS_TMP"/*/node*/registry.log "$OPS_TMP"/*.log; do
      [ -f "$f" ] || continue
      echo "---- $f (last 25 lines)" >&2
      tail -n 25 "$f" >&2
    done
  fi
  rm -rf "$OPS_TMP"
}
trap ops_cleanup EXIT

fail() {
  OPS_FAILED=1
  ops_log "FAIL: $*"
  exit 1
}

# A port base P whose ports P, P+1..P+9, P+99, P+101..P+109, P+201..P+209
# are free on 127.0.0.1, drawn below the ephemeral range.
free_base() {
  python3 - <<'PY'
import random, socket, sys
for _ in range(2000):
    b = random.randrange(20000, 29000)
    ports = [b, b + 99] + [b + k + i for k in (1, 101, 201) for i in range(9)]
    socks, ok = [], True
    for p in ports:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        socks.append(s)
        if not ok:
            break
    for s in socks:
        s.close()
    if ok:
        print(b)
        sys.exit(0)
sys.exit("no free port base")
PY
}

# cluster_up DIR BASE [deploy/up options...]: deploy/up, recorded for cleanup.
cluster_up() {
  local dir=$1 base=$2
  shift 2
  OPS_DIRS+=("$dir")
  "$PILOT_ROOT/deploy/up" --dir "$dir" --port-base "$base" "$@" > "$OPS_TMP/up.out" 2>&1 \
    || { cat "$OPS_TMP/up.out" >&2; fail "deploy/up --dir $dir failed"; }
}

http_port_of() { echo $(($1 + 200 + $2)); }
client_port_of() { echo $(($1 + $2)); }

# http_code URL: the status code (000 when nothing answers).
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true; }

# status_field BASE I JQ: a field of node I's /status ("" if unreachable).
status_field() {
  curl -s -m 2 "http://127.0.0.1:$(http_port_of "$1" "$2")/status" 2>/dev/null | jq -r "$3" 2>/dev/null || true
}

# wait_for SECONDS CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
  local secs=$1 t
  shift
  for t in $(seq 1 $((secs * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# The index (1..N) of the node that says it leads, or "" if none.
leader_of() {
  local base=$1 n=$2 i
  for i in $(seq 1 "$n"); do
    if [ "$(http_code "http://127.0.0.1:$(http_port_of "$base" "$i")/readyz/leader")" = 200 ]; then
      echo "$i"
      return 0
    fi
  done
  return 1
}

# converged BASE I1 I2...: every listed node reports the same applied index
# and state hash.
converged() {
  local base=$1 first="" i v
  shift
  for i in "$@"; do
    v=$(status_field "$base" "$i" '"\(.applied_index) \(.state_hash)"')
    [ -n "$v" ] || return 1
    [ -z "$first" ] && first=$v
    [ "$v" = "$first" ] || return 1
  done
  return 0
}

# ctl ARGS...: pilotctl with rc in RC, stdout in OUT.
RC=0
OUT=""
ctl() {
  OUT=$("$PILOTCTL" "$@" 2>"$OPS_TMP/ctl.err")
  RC=$?
  return 0
}
ctl_ok() {
  ctl "$@"
  [ "$RC" -eq 0 ] || fail "pilotctl $* -> rc $RC: $OUT $(cat "$OPS_TMP/ctl.err")"
}

# http_is URL CODE / field_is BASE I JQ VALUE: for wait_for (re-evaluated
# on every try).
http_is() { [ "$(http_code "$1")" = "$2" ]; }
field_is() { [ "$(status_field "$1" "$2" "$3")" = "$4" ]; }
