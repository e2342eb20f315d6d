# jepsen/lib/topology.sh: network namespaces, the private bridge, data
# directories (plain, tmpfs or the FUSE lost-write layer) and node processes
# for jepsen/run (fault-injection.md §5.3). Sourced, not executed.
#
# Layout: one control namespace "jep<RID>-ctl" holds bridge br0 (10.77.0.1)
# and runs the clients; node K lives in "jep<RID>-nK" with eth0 10.77.0.1K,
# a veth whose peer is attached to br0. 10.77.0.x exists only inside these
# namespaces; nothing has a default route. Every process is tracked by PID.

topo_ns() { echo "jep${RID}-$1"; }
node_ip() { echo "10.77.0.$((10 + $1))"; }
node_client() { echo "$(node_ip "$1"):7000"; }
node_raft() { echo "$(node_ip "$1"):7001"; }
in_ctl() { ip netns exec "$(topo_ns ctl)" "$@"; }

topo_up() {
  local ctl k ns
  ctl=$(topo_ns ctl)
  ip netns add "$ctl"
  ip -n "$ctl" link set lo up
  ip -n "$ctl" link add br0 type bridge
  ip -n "$ctl" addr add 10.77.0.1/24 dev br0
  ip -n "$ctl" link set br0 up
  for k in $(seq 1 "$NODES"); do
    ns=$(topo_ns "n$k")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ctl" link add "v$k" type veth peer name eth0 netns "$ns"
    ip -n "$ctl" link set "v$k" master br0
    ip -n "$ctl" link set "v$k" up
    ip -n "$ns" addr add "$(node_ip "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  # Bridge-family table for partitions: forwarded frames between nodes only
  # (the clients in ctl talk to nodes through br0's own address, not forward).
  in_ctl nft add table bridge jepsen
  in_ctl nft add chain bridge jepsen forward_f '{ type filter hook forward priority 0; policy accept; }'
}

topo_down() {
  local k
  for k in $(seq 1 "$NODES"); do
    ip netns del "$(topo_ns "n$k")" 2>/dev/null || true
  done
  ip netns del "$(topo_ns ctl)" 2>/dev/null || true
}

# ---- data directories ------------------------------------------------------

# data_prepare K: DATA_MODE plain | tmpfs | fuse
data_prepare() {
  local k=$1 d="$WORK/n$1/data"
  mkdir -p "$WORK/n$k/backing" "$d"
  case "$DATA_MODE" in
    tmpfs)
      mount -t tmpfs -o size="${DISK_MB:-64}m" "jep${RID}n$k" "$d"
      ;;
    fuse)
      local extra=()
      [ "${CANARY:-}" = NO_FSYNC ] && extra=(--ignore-fsync)
      [ "${DISK_LATENCY:-0}" -gt 0 ] && extra+=(--sync-delay-ms "$DISK_LATENCY")
      "$BIN/jepsen/fuse/pilot-lossyfs" "$WORK/n$k/backing" "$d" "${extra[@]}" \
        >"$WORK/n$k/fuse.log" 2>&1 &
      echo $! >"$WORK/n$k/fuse.pid"
      local i
      for i in $(seq 1 50); do
        mountpoint -q "$d" && break
        sleep 0.1
      done
      mountpoint -q "$d" || { echo "jepsen: FUSE mount of n$k failed" >&2; return 1; }
      ;;
  esac
}

data_release() {
  local k=$1 d="$WORK/n$1/data"
  if mountpoint -q "$d" 2>/dev/null; then
    if [ "$DATA_MODE" = fuse ]; then
      fusermount3 -u -z "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true
    else
      umount -l "$d" 2>/dev/null || true
    fi
  fi
  if [ -f "$WORK/n$k/fuse.pid" ]; then
    local p
    p=$(cat "$WORK/n$k/fuse.pid")
    kill "$p" 2>/dev/null || true
    rm -f "$WORK/n$k/fuse.pid"
  fi
}

# ---- node processes --------------------------------------------------------

# node_start K MODE: MODE initial | restart | join (join uses NODE_ID[K] and
# asks node $2's neighbour). Records the PID in $WORK/nK/pid.
node_start() {
  local k=$1 mode=$2 ns id args env_pre=()
  ns=$(topo_ns "n$k")
  id=${NODE_ID[$k]}
  args=(--id "$id" --name "n$k" --data-dir "$WORK/n$k/data" --listen "$(node_client "$k")"
        --raft "$(node_raft "$k")" --cluster-key-file "$WORK/cluster.key"
        --admin-token-file "$WORK/admin.token" --election-timeout "$ELECTION_MS"
        --heartbeat-timeout "$HEARTBEAT_MS" --snapshot-threshold "$SNAP_THRESHOLD"
        --snapshot-trailing "$SNAP_TRAILING")
  case "$mode" in
    initial) args+=(--initial-cluster "$INITIAL") ;;
    join) args+=(--join "$3") ;;
  esac
  env_pre=(env ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$WORK/n$k/asan"
           UBSAN_OPTIONS="print_stacktrace=1:log_path=$WORK/n$k/ubsan" LIBRAFT_TRACE=)
  if [ "$CLOCK" = 1 ] && [ "$k" != "${SLOW_NODE:-0}" ]; then
    # Per-node clock through libfaketime; only realtime is faked, so raft's
    # monotonic timers keep running and the registry's wall-clock logic
    # (leader-stamped times, expiries) sees the skew.
    env_pre+=(LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$WORK/n$k/faketime"
              FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1
              ASAN_OPTIONS="detect_leaks=1:verify_asan_link_order=0:log_path=$WORK/n$k/asan")
  fi
  if [ "$k" = "${SLOW_NODE:-0}" ]; then
    # slow-leader: this node's clocks, monotonic included, run at
    # SLOW_RATE of real time for its whole life (a drifting oscillator).
    # libfaketime fixes the rate at process start; raft's timers (uv_now)
    # then fire 1/SLOW_RATE times later in real time. It takes no part in
    # the clock nemesis.
    env_pre+=(LD_PRELOAD="$FAKETIME_LIB" FAKETIME="+0 x$SLOW_RATE"
              ASAN_OPTIONS="detect_leaks=1:verify_asan_link_order=0:log_path=$WORK/n$k/asan")
  fi
  echo "=== start $(date +%T) mode=$mode id=$id" >>"$WORK/n$k/node.log"
  ip netns exec "$ns" "${env_pre[@]}" "$BIN/registry/server/pilot-registry" "${args[@]}" \
    >>"$WORK/n$k/node.log" 2>&1 &
  echo $! >"$WORK/n$k/pid"
  rm -f "$WORK/n$k/expect_dead"
}

node_pid() { cat "$WORK/n$1/pid" 2>/dev/null || true; }

node_alive() {
  local p
  p=$(node_pid "$1")
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null
}

# Bounded wait for a PID to go away.
wait_gone() {
  local p=$1 i
  for i in $(seq 1 100); do
    kill -0 "$p" 2>/dev/null || return 0
    sleep 0.1
  done
  return 1
}

node_kill() {
  local k=$1 p
  p=$(node_pid "$k")
  touch "$WORK/n$k/expect_dead"
  if [ -n "$p" ]; then
    kill -CONT "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    wait_gone "$p" || true
  fi
  rm -f "$WORK/n$k/pid"
}

node_stop() {
  local k=$1 p
  p=$(node_pid "$k")
  touch "$WORK/n$k/expect_dead"
  if [ -n "$p" ]; then
    kill -CONT "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
    wait_gone "$p" || kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  fi
  rm -f "$WORK/n$k/pid"
}

# Leader's node number from the nodes' own status (0 if none).
leader_node() {
  in_ctl "$BIN/jepsen/client/pilot-jepsen-client" status --nodes "$NODE_LIST" \
    --admin-token-file "$WORK/admin.token" 2>/dev/null |
    awk '$2 == "leader" { sub("n", "", $1); print $1; exit }' | grep . || echo 0
}

# Wait until some node is a ready leader, at most $1 seconds.
wait_leader() {
  local l end=$(( SECONDS + ${1:-30} ))
  while [ "$SECONDS" -lt "$end" ]; do
    l=$(in_ctl "$BIN/jepsen/client/pilot-jepsen-client" status --nodes "$NODE_LIST" \
          --admin-token-file "$WORK/admin.token" 2>/dev/null | awk '$2 == "leader" && $6 == 1')
    [ -n "$l" ] && return 0
    sleep 0.5
  done
  return 1
}
