# tests/e2e/lib.sh: harness for the end-to-end pilotctl scenarios. Sourced by
# each scenario script; starts a real three-node pilot-registry cluster on
# 127.0.0.1 (free ports picked by the kernel), gives every agent its own
# PILOT_HOME, and offers assertion helpers over pilotctl's --json output.
# Everything started here is stopped by PID on exit; every wait is bounded.
#
# Environment (set by ctest): PILOTCTL, PILOT_REGISTRY_BIN.
set -u

: "${PILOTCTL:?PILOTCTL must point at the pilotctl binary}"
: "${PILOT_REGISTRY_BIN:?PILOT_REGISTRY_BIN must point at the pilot-registry binary}"

E2E_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pilot-e2e.XXXXXX")
E2E_PIDS=()
E2E_FAILED=0
E2E_NAME=$(basename "$0" .sh)
declare -A ID
AGENT_N=0
OUT=""
ERR=""
RC=0

e2e_log() { printf '[%s] %s\n' "$E2E_NAME" "$*" >&2; }

e2e_cleanup() {
    local pid i
    for pid in "${E2E_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${E2E_PIDS[@]}"; do
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$E2E_FAILED" -ne 0 ]; then
        for f in "$E2E_DIR"/n*.log; do
            [ -f "$f" ] || continue
            echo "---- $f (last 30 lines)" >&2
            tail -n 30 "$f" >&2
        done
    fi
    rm -rf "$E2E_DIR"
}
trap e2e_cleanup EXIT

fail() {
    E2E_FAILED=1
    e2e_log "FAIL: $*"
    e2e_log "last command rc=$RC stdout: $OUT"
    e2e_log "last command stderr: $ERR"
    exit 1
}

# n free TCP ports on 127.0.0.1, all distinct, drawn at random from
# 10000-29999: below the kernel's ephemeral range, so they cannot collide
# with ports other tests get from bind(0) between our check and our use.
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
want, got, socks = int(sys.argv[1]), [], []
for _ in range(100000):
    if len(got) == want:
        break
    p = random.randrange(10000, 30000)
    if p in got:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    socks.append(s)
    got.append(p)
if len(got) < want:
    sys.exit("no free ports")
print(" ".join(map(str, got)))
for s in socks:
    s.close()
PY
}

# start_node i: start node i with the ports chosen by start_cluster.
start_node() {
    local i=$1
    "$PILOT_REGISTRY_BIN" --id "$i" --name "node$i" --data-dir "$E2E_DIR/n$i" \
        --listen "127.0.0.1:${CPORT[$i]}" --raft "127.0.0.1:${RPORT[$i]}" \
        --http "127.0.0.1:${HPORT[$i]}" --initial-cluster "$INITIAL" \
        --cluster-key-file "$E2E_DIR/cluster.key" --admin-token-file "$E2E_DIR/admin.token" \
        --election-timeout 500 --heartbeat-timeout 50 \
        >>"$E2E_DIR/n$i.log" 2>&1 &
    NODE_PID[$i]=$!
    E2E_PIDS+=("$!")
}

stop_node() {
    local i=$1 pid=${NODE_PID[$1]} k
    kill -TERM "$pid" 2>/dev/null || true
    for k in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# start_cluster: three nodes; sets EPS (all client endpoints), EP[i].
start_cluster() {
    local ports i
    read -r -a ports <<<"$(free_ports 9)"
    declare -g -A CPORT RPORT HPORT NODE_PID EP
    for i in 1 2 3; do
        CPORT[$i]=${ports[$((i - 1))]}
        RPORT[$i]=${ports[$((i + 2))]}
        HPORT[$i]=${ports[$((i + 5))]}
        EP[$i]="127.0.0.1:${CPORT[$i]}"
    done
    INITIAL="1=127.0.0.1:${RPORT[1]},2=127.0.0.1:${RPORT[2]},3=127.0.0.1:${RPORT[3]}"
    EPS="${EP[1]},${EP[2]},${EP[3]}"
    head -c 32 /dev/urandom >"$E2E_DIR/cluster.key"
    head -c 24 /dev/urandom | od -An -tx1 | tr -d " \n" >"$E2E_DIR/admin.token"
    chmod 600 "$E2E_DIR/cluster.key" "$E2E_DIR/admin.token"
    for i in 1 2 3; do
        mkdir -p "$E2E_DIR/n$i"
        start_node "$i"
    done
    wait_leader
}

# Wait (bounded, 30 s) until the cluster answers a linearizable read.
wait_leader() {
    local k
    for k in $(seq 1 60); do
        if PILOT_HOME="$E2E_DIR/admin-home" "$PILOTCTL" --json --timeout 2 \
            --registry "$EPS" --admin-token-file "$E2E_DIR/admin.token" \
            cluster members >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    fail "cluster did not elect a leader within 30 s"
}

# leader_index: the i (1..3) of the current leader, from cluster status.
leader_index() {
    local i st
    st=$(PILOT_HOME="$E2E_DIR/admin-home" "$PILOTCTL" --json --registry "$EPS" \
        --admin-token-file "$E2E_DIR/admin.token" cluster status 2>/dev/null) || return 1
    for i in 1 2 3; do
        if [ "$(jq -r --arg a "${EP[$i]}" \
            '.data.members[] | select(.client_addr == $a) | .state' <<<"$st")" = "leader" ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# run AGENT args...: pilotctl --json as AGENT (own PILOT_HOME) against
# $REG (default: every endpoint). Sets OUT, ERR, RC; never fails itself.
run() {
    local agent=$1
    shift
    local errf="$E2E_DIR/stderr"
    OUT=$(PILOT_HOME="$E2E_DIR/home/$agent" "$PILOTCTL" --json --registry "${REG:-$EPS}" \
        "$@" 2>"$errf")
    RC=$?
    ERR=$(cat "$errf")
}

# ok AGENT args...: the command must succeed.
ok() {
    run "$@"
    [ "$RC" -eq 0 ] || fail "expected success: pilotctl $*"
}

# fails CODE AGENT args...: must fail with error code CODE (exit 1).
fails() {
    local code=$1
    shift
    run "$@"
    [ "$RC" -ne 0 ] || fail "expected failure ($code): pilotctl $*"
    [ "$(tail -n 1 <<<"$ERR" | jq -r .code 2>/dev/null)" = "$code" ] ||
        fail "expected error code $code: pilotctl $*"
}

# expect 'jq filter': the last OUT must satisfy the filter.
expect() {
    [ "$(jq -r "$1" <<<"$OUT" 2>/dev/null)" = "true" ] || fail "expected $1"
}

# agent NAME [register options]: new identity, registered with hostname NAME.
agent() {
    local name=$1
    shift
    AGENT_N=$((AGENT_N + 1))
    ok "$name" init
    ok "$name" register --hostname "$name" --endpoint "127.0.0.1:$((4000 + AGENT_N))" "$@"
    ID[$name]=$(jq -r .data.node_id <<<"$OUT")
    [ "${ID[$name]}" -ge 4 ] 2>/dev/null || fail "register $name gave no node id"
}
