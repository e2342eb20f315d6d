# jepsen/lib/nemesis.sh: the faults and their heals (fault-injection.md
# §5.4) for jepsen/run. Sourced. Every fault is logged twice to
# nemesis.jsonl as process "nemesis", type info (Jepsen's convention): once
# when it starts (f "start-<kind>") and once when it is healed ("stop-<kind>").
# Randomness comes from bash's RANDOM, seeded with the run's seed, so the
# schedule replays exactly from the printed command. bash reseeds RANDOM in
# every subshell, so RANDOM is only ever read in this shell: the helpers
# below set globals (R, SHUF, TGT, PICKED) instead of printing.

now_rel() { echo $(( $("$BIN/jepsen/client/pilot-jepsen-client" now) - T0 )); }

# nem_log F VALUE_JSON
nem_log() {
  printf '{"time":%s,"type":"info","process":"nemesis","f":"%s","value":%s}\n' \
    "$(now_rel)" "$1" "$2" >>"$OUT/nemesis.jsonl"
}

# SHUF: the nodes 1..NODES in a random order (Fisher-Yates).
shuffle_nodes() {
  local i j t
  SHUF=()
  for (( i = 1; i <= NODES; i++ )); do SHUF+=("$i"); done
  for (( i = NODES - 1; i > 0; i-- )); do
    j=$(( RANDOM % (i + 1) ))
    t=${SHUF[$i]}; SHUF[$i]=${SHUF[$j]}; SHUF[$j]=$t
  done
}
# R: one random node.
rand_node() { R=$(( RANDOM % NODES + 1 )); }
# R: one of the arguments, at random.
rand_of() { R=${@:$(( RANDOM % $# + 1 )):1}; }
json_list() { local IFS=,; echo "[$*]"; }

# targets one|leader|majority|minority|all -> TGT, an array of node numbers
targets() {
  local l
  case "$1" in
    one) rand_node; TGT=("$R") ;;
    leader) l=$(leader_node); [ "$l" = 0 ] && { rand_node; l=$R; }; TGT=("$l") ;;
    majority) shuffle_nodes; TGT=("${SHUF[@]:0:$(( NODES / 2 + 1 ))}") ;;
    minority) shuffle_nodes; TGT=("${SHUF[@]:0:$(( (NODES - 1) / 2 ))}") ;;
    all) TGT=($(seq 1 "$NODES")) ;;
  esac
}

# ---- partitions: one nft transaction in the bridge table --------------------

# drop A B: frames from node A to node B are dropped (one direction).
PART_RULES=""
drop() { PART_RULES+="add rule bridge jepsen forward_f ip saddr $(node_ip "$1") ip daddr $(node_ip "$2") drop"$'\n'; }
cut_both() { drop "$1" "$2"; drop "$2" "$1"; }

part_apply() {
  local f="$WORK/partition.nft"
  { echo "flush chain bridge jepsen forward_f"; printf '%s' "$PART_RULES"; } >"$f"
  in_ctl nft -f "$f"
}

partition_start() {
  local kind=$1 k j a=() b=() ring=() n
  PART_RULES=""
  case "$kind" in
    one|leader)
      targets "$kind"; k=${TGT[0]}
      for j in $(seq 1 "$NODES"); do [ "$j" != "$k" ] && cut_both "$k" "$j"; done
      nem_log start-partition "{\"kind\":\"$kind\",\"isolated\":[$k]}"
      ;;
    oneway)
      rand_node; k=$R
      for j in $(seq 1 "$NODES"); do [ "$j" != "$k" ] && drop "$k" "$j"; done
      nem_log start-partition "{\"kind\":\"oneway\",\"mute\":[$k]}"
      ;;
    halves|bridge)
      shuffle_nodes; ring=("${SHUF[@]}")
      n=$(( NODES / 2 ))
      [ "$kind" = bridge ] && n=$(( (NODES - 1) / 2 ))
      a=("${ring[@]:0:n}")
      if [ "$kind" = bridge ]; then
        b=("${ring[@]:n:$((NODES - 1 - n))}")
      else
        b=("${ring[@]:n}")
      fi
      for k in "${a[@]}"; do for j in "${b[@]}"; do cut_both "$k" "$j"; done; done
      nem_log start-partition "{\"kind\":\"$kind\",\"a\":$(json_list "${a[@]}"),\"b\":$(json_list "${b[@]}")}"
      ;;
    ring)
      shuffle_nodes; ring=("${SHUF[@]}")
      # Every node keeps a majority and no two keep the same one (Jepsen's
      # majorities-ring); with three nodes one direction per pair is cut.
      for k in $(seq 0 $(( NODES - 1 ))); do
        for j in $(seq 0 $(( NODES - 1 ))); do
          local d=$(( (j - k + NODES) % NODES ))
          if [ "$NODES" -le 3 ]; then
            [ "$d" = 1 ] && drop "${ring[$k]}" "${ring[$j]}"
          elif [ "$d" -ge 2 ] && [ "$d" -le $(( NODES - 2 )) ]; then
            drop "${ring[$k]}" "${ring[$j]}"
          fi
        done
      done
      nem_log start-partition "{\"kind\":\"ring\",\"ring\":$(json_list "${ring[@]}")}"
      ;;
  esac
  part_apply
}

partition_stop() {
  PART_RULES=""
  part_apply
  nem_log stop-partition null
}

# ---- slow leader: a leader whose monotonic clock runs slow, cut from its peers --

# The slow node (SLOW_NODE, started at SLOW_RATE by node_start) is made
# leader by an admin leadership transfer, then cut from every peer while
# the clients still reach its client port through br0. raft 0.15 deposes a
# leader after one election timeout on its own clock, so this one keeps
# believing it leads for ELECTION_MS / SLOW_RATE of real time, long after
# the majority has elected a new leader and committed new writes. Only a
# read path that checks with a quorum (the read barrier) keeps it from
# answering from stale state; a lease-based read would not.
slow_leader_start() {
  local k=$SLOW_NODE j i l=0
  in_ctl "$BIN/pilotctl/pilotctl" --registry "$NODE_LIST" --admin-token-file "$WORK/admin.token" \
    cluster transfer --to "${NODE_ID[$k]}" >>"$OUT/transfer.log" 2>&1 || true
  for i in $(seq 1 40); do
    l=$(in_ctl "$BIN/jepsen/client/pilot-jepsen-client" status --nodes "$NODE_LIST" \
          --admin-token-file "$WORK/admin.token" 2>/dev/null |
        awk -v n="n$k" '$1 == n && $2 == "leader" && $6 == 1 { print 1 }')
    [ "$l" = 1 ] && break
    l=0
    sleep 0.25
  done
  PART_RULES=""
  for j in $(seq 1 "$NODES"); do [ "$j" != "$k" ] && cut_both "$k" "$j"; done
  nem_log start-partition "{\"kind\":\"slow-leader\",\"isolated\":[$k],\"rate\":\"$SLOW_RATE\",\"was_leader\":$([ "$l" = 1 ] && echo true || echo false)}"
  part_apply
}

# ---- kill / pause ------------------------------------------------------------

kill_start() {
  local k ks=()
  targets "$1"; ks=("${TGT[@]}")
  for k in "${ks[@]}"; do node_kill "$k"; done
  nem_log start-kill "{\"targets\":$(json_list "${ks[@]}"),\"mode\":\"$1\"}"
}

# Restart every dead node. One that died without a nemesis kill (no
# expect_dead marker) is an unexpected exit, unless its disk was being
# filled: fail-stop on a disk error is the designed behaviour.
restart_dead() {
  local k started=()
  for k in $(seq 1 "$NODES"); do
    if ! node_alive "$k"; then
      if [ ! -f "$WORK/n$k/expect_dead" ] && [ ! -f "$WORK/n$k/disk_full" ]; then
        echo "n$k $(now_rel)" >>"$OUT/unexpected-exits.txt"
      fi
      node_start "$k" restart
      started+=("$k")
    fi
  done
  echo "${started[@]}"
}

kill_stop() {
  local s
  s=$(restart_dead)
  nem_log stop-kill "{\"restarted\":$(json_list $s)}"
}

# lagging-quorum: the leader dies just as a lagging minority comes back.
# A minority of followers is cut off for LAG_S while the clients keep
# writing; then the leader and enough up-to-date followers are killed that
# the surviving majority includes every lagging node, and the partition is
# healed. The next leader holds entries its quorum lacks, so it can commit
# nothing of its own term until it has shipped them and the lagging disks
# have stored them: the window the leader-init barrier exists for (a new
# leader must not call itself ready before then).
LAG_S=${JEPSEN_LAG_S:-3}
lagging_quorum_start() {
  local l k j lag=() up=() dead=()
  targets leader; l=${TGT[0]}
  shuffle_nodes
  for k in "${SHUF[@]}"; do [ "$k" != "$l" ] && up+=("$k"); done
  # The first (N-1)/2 of the shuffled followers lag; the rest are up to date.
  lag=("${up[@]:0:$(( (NODES - 1) / 2 ))}")
  up=("${up[@]:$(( (NODES - 1) / 2 ))}")
  PART_RULES=""
  for k in "${lag[@]}"; do
    for j in $(seq 1 "$NODES"); do
      printf '%s\n' "${lag[@]}" | grep -qx "$j" || cut_both "$k" "$j"
    done
  done
  part_apply
  nem_log start-partition "{\"kind\":\"lagging\",\"isolated\":$(json_list "${lag[@]}")}"
  sleep "$LAG_S"
  # The survivors: the lagging nodes plus enough up-to-date ones for a
  # bare majority; everybody else, the leader first, dies.
  dead=("$l" "${up[@]:$(( NODES / 2 + 1 - ${#lag[@]} ))}")
  for k in "${dead[@]}"; do node_kill "$k"; done
  nem_log start-kill "{\"targets\":$(json_list "${dead[@]}"),\"mode\":\"lagging-quorum\"}"
  # Heal the survivors but keep the dead cut off until they restart: the
  # kernel keeps retransmitting a killed process's unsent TCP data, and a
  # dead leader's queued appends would otherwise catch the laggards up.
  PART_RULES=""
  for k in "${dead[@]}"; do
    for j in $(seq 1 "$NODES"); do [ "$j" != "$k" ] && cut_both "$k" "$j"; done
  done
  part_apply
  nem_log stop-partition null
  nem_log start-partition "{\"kind\":\"dead\",\"isolated\":$(json_list "${dead[@]}")}"
}

lagging_quorum_stop() {
  kill_stop
  partition_stop
}

PAUSED=()
pause_start() {
  local k
  targets "$1"; PAUSED=("${TGT[@]}")
  for k in "${PAUSED[@]}"; do kill -STOP "$(node_pid "$k")" 2>/dev/null || true; done
  nem_log start-pause "{\"targets\":$(json_list "${PAUSED[@]}"),\"mode\":\"$1\"}"
}

pause_stop() {
  local k
  for k in $(seq 1 "$NODES"); do
    node_alive "$k" && kill -CONT "$(node_pid "$k")" 2>/dev/null
  done
  nem_log stop-pause "{\"targets\":$(json_list "${PAUSED[@]}")}"
  PAUSED=()
}

# ---- clock (libfaketime control files) -----------------------------------------

STROBE_PID=""
clock_start() {
  local kind=$1 k ks=() s
  rand_of one leader majority
  targets "$R"; ks=("${TGT[@]}")
  case "$kind" in
    bump)
      # Jepsen's bump range: 11 ms .. 288 s, either direction.
      s=$(( (RANDOM % 288) + 1 )); [ $((RANDOM % 2)) = 0 ] && s=-$s
      for k in "${ks[@]}"; do echo "${s}s" | sed 's/^\([0-9]\)/+\1/' >"$WORK/n$k/faketime"; done
      nem_log start-clock "{\"kind\":\"bump\",\"seconds\":$s,\"targets\":$(json_list "${ks[@]}")}"
      ;;
    strobe)
      s=$(( (RANDOM % 200) + 1 ))
      ( for i in $(seq 1 400); do
          for k in "${ks[@]}"; do echo "+${s}s" >"$WORK/n$k/faketime"; done; sleep 0.05
          for k in "${ks[@]}"; do echo "+0s" >"$WORK/n$k/faketime"; done; sleep 0.05
        done ) &
      STROBE_PID=$!
      nem_log start-clock "{\"kind\":\"strobe\",\"seconds\":$s,\"targets\":$(json_list "${ks[@]}")}"
      ;;
    rate)
      for k in "${ks[@]}"; do echo "+0s x$(( RANDOM % 2 ? 2 : 3 ))" >"$WORK/n$k/faketime"; done
      nem_log start-clock "{\"kind\":\"rate\",\"targets\":$(json_list "${ks[@]}")}"
      ;;
  esac
}

clock_stop() {
  local k
  if [ -n "$STROBE_PID" ]; then kill "$STROBE_PID" 2>/dev/null; wait "$STROBE_PID" 2>/dev/null; STROBE_PID=""; fi
  for k in $(seq 1 "$NODES"); do echo "+0s" >"$WORK/n$k/faketime"; done
  nem_log stop-clock null
}

# ---- disk full (tmpfs + balloon) ----------------------------------------------

DISK_TARGETS=()
disk_start() {
  local k
  targets "$1"; DISK_TARGETS=("${TGT[@]}")
  for k in "${DISK_TARGETS[@]}"; do
    touch "$WORK/n$k/disk_full"
    dd if=/dev/zero of="$WORK/n$k/data/jepsen-balloon" bs=1M count=$((DISK_MB + 1)) 2>/dev/null || true
  done
  nem_log start-disk "{\"targets\":$(json_list "${DISK_TARGETS[@]}"),\"mode\":\"$1\"}"
}

disk_stop() {
  local k
  for k in $(seq 1 "$NODES"); do rm -f "$WORK/n$k/data/jepsen-balloon"; done
  restart_dead >/dev/null
  for k in $(seq 1 "$NODES"); do rm -f "$WORK/n$k/disk_full"; done
  nem_log stop-disk null
  DISK_TARGETS=()
}

# ---- lost un-fsynced writes (FUSE layer): crash + drop + restart ----------------

lost_start() {
  local mode=$1 k ks=()
  targets "$mode"; ks=("${TGT[@]}")
  for k in "${ks[@]}"; do
    node_kill "$k"
    # The FUSE layer forgets everything not fsynced: a power loss. Wait
    # (bounded) until it says so, before anything can restart the node.
    local before i
    before=$(grep -c "power loss" "$WORK/n$k/fuse.log")
    kill -USR1 "$(cat "$WORK/n$k/fuse.pid")" 2>/dev/null || true
    for i in $(seq 1 50); do
      [ "$(grep -c "power loss" "$WORK/n$k/fuse.log")" -gt "$before" ] && break
      sleep 0.05
    done
  done
  nem_log start-lose-unsynced "{\"targets\":$(json_list "${ks[@]}"),\"mode\":\"$mode\"}"
}

lost_stop() {
  local s
  sleep 0.2
  s=$(restart_dead)
  nem_log stop-lose-unsynced "{\"restarted\":$(json_list $s)}"
}

# ---- membership: remove -> wipe -> rejoin under a new id ------------------------

member_cycle() {
  local k l live
  if [ "$NODES" -lt 4 ]; then
    nem_log member-skipped '{"why":"never below three voters"}'
    return 0
  fi
  l=$(leader_node)
  rand_node; k=$R
  [ "$k" = "$l" ] && k=$(( k % NODES + 1 ))
  live=$(node_client $(( k % NODES + 1 )))
  nem_log start-member "{\"remove\":$k,\"id\":${NODE_ID[$k]}}"
  # A removal that did not go through (a partition overlapping this
  # cycle, no leader) leaves the member in the configuration: wiping it
  # then would leave a dead voter behind, so after three tries the cycle
  # ends there. "no such member" on a retry means an earlier try applied.
  local try out removed=0
  for try in 1 2 3; do
    out=$(in_ctl "$BIN/pilotctl/pilotctl" --timeout 10 --registry "$NODE_LIST" \
            --admin-token-file "$WORK/admin.token" cluster remove "${NODE_ID[$k]}" 2>&1) &&
      { removed=1; }
    echo "$out" >>"$OUT/member.log"
    [ "$try" -gt 1 ] && [[ "$out" == *"no such member"* ]] && removed=1
    [ "$removed" = 1 ] && break
    sleep 1
  done
  if [ "$removed" = 0 ]; then
    nem_log stop-member "{\"rejoined\":null,\"why\":\"remove failed; member kept\"}"
    return 0
  fi
  node_kill "$k"
  data_release "$k"
  rm -rf "$WORK/n$k/data" "$WORK/n$k/backing"
  data_prepare "$k"
  NEXT_ID=$(( NEXT_ID + 1 ))
  NODE_ID[$k]=$NEXT_ID
  node_start "$k" join "$live"
  nem_log stop-member "{\"rejoined\":$k,\"id\":$NEXT_ID}"
}

# ---- dispatcher -----------------------------------------------------------------

# nemesis_start NAME: NAME is one of the --nemesis words; appends the kind
# of heal it needs to CUR_FAULTS.
CUR_FAULTS=()
nemesis_start() {
  local r CUR_FAULT=""
  case "$1" in
    partition)
      r=(one leader halves ring bridge oneway)
      partition_start "${r[$((RANDOM % 6))]}"; CUR_FAULT=partition ;;
    partition-one|partition-leader|partition-halves|partition-ring|partition-bridge|partition-oneway)
      partition_start "${1#partition-}"; CUR_FAULT=partition ;;
    slow-leader) slow_leader_start; CUR_FAULT=partition ;;
    kill) r=(one leader majority); kill_start "${r[$((RANDOM % 3))]}"; CUR_FAULT=kill ;;
    kill-all) kill_start all; CUR_FAULT=kill ;;
    kill-leader) kill_start leader; CUR_FAULT=kill ;;
    lagging-quorum) lagging_quorum_start; CUR_FAULT=lagging ;;
    stop) kill_start one; CUR_FAULT=kill ;;
    pause) r=(one leader majority); pause_start "${r[$((RANDOM % 3))]}"; CUR_FAULT=pause ;;
    pause-leader) pause_start leader; CUR_FAULT=pause ;;
    clock) r=(bump strobe rate); clock_start "${r[$((RANDOM % 3))]}"; CUR_FAULT=clock ;;
    disk) r=(one leader all); disk_start "${r[$((RANDOM % 3))]}"; CUR_FAULT=disk ;;
    lost-unsynced) r=(one majority all); lost_start "${r[$((RANDOM % 3))]}"; CUR_FAULT=lost ;;
    lost-unsynced-all) lost_start all; CUR_FAULT=lost ;;
    member) member_cycle; CUR_FAULT="" ;;
    none) CUR_FAULT="" ;;
    *) echo "jepsen: unknown nemesis $1" >&2; return 1 ;;
  esac
  [ -n "$CUR_FAULT" ] && CUR_FAULTS+=("$CUR_FAULT")
  return 0
}

# Heal the active faults, the last started first.
nemesis_stop() {
  local i
  for (( i = ${#CUR_FAULTS[@]} - 1; i >= 0; i-- )); do
    case "${CUR_FAULTS[$i]}" in
      partition) partition_stop ;;
      kill) kill_stop ;;
      lagging) lagging_quorum_stop ;;
      pause) pause_stop ;;
      clock) clock_stop ;;
      disk) disk_stop ;;
      lost) lost_stop ;;
    esac
  done
  CUR_FAULTS=()
}

# What a fault acts on; two faults of one class cannot overlap (a second
# partition would replace the first one's rules, a second kill would
# race the first one's restart).
nemesis_class() {
  case "$1" in
    partition*|slow-leader|lagging-quorum) echo net ;;
    kill*|stop|lost-unsynced*) echo process ;;
    pause*) echo pause ;;
    *) echo "$1" ;;
  esac
}

# The faults of one cycle. One word: that fault. Several (jepsen.dqlite's
# combinations such as partition,kill): each joins with probability 1/2,
# at most one per class, at least one, so faults overlap as they do under
# Jepsen's composed nemeses instead of merely alternating.
nemesis_pick() {
  local f c classes=" "
  PICKED=()
  if [ "$#" = 1 ]; then
    PICKED=("$1")
    return
  fi
  for f in "$@"; do
    c=$(nemesis_class "$f")
    if [ $(( RANDOM % 2 )) = 1 ] && [[ "$classes" != *" $c "* ]]; then
      PICKED+=("$f")
      classes+="$c "
    fi
  done
  [ "${#PICKED[@]}" = 0 ] && { rand_of "$@"; PICKED=("$R"); }
  return 0
}

# Heal everything, whatever is active (final phase and teardown).
heal_all() {
  local k
  [ -n "$STROBE_PID" ] && { kill "$STROBE_PID" 2>/dev/null; wait "$STROBE_PID" 2>/dev/null; STROBE_PID=""; }
  PART_RULES=""
  part_apply 2>/dev/null || true
  for k in $(seq 1 "$NODES"); do
    node_alive "$k" && kill -CONT "$(node_pid "$k")" 2>/dev/null
    [ "$CLOCK" = 1 ] && echo "+0s" >"$WORK/n$k/faketime"
    rm -f "$WORK/n$k/data/jepsen-balloon"
  done
  restart_dead >/dev/null
  nem_log heal-all null
}

# Main nemesis loop: until the deadline, wait, start a cycle's faults, hold
# them, heal.
nemesis_loop() {
  local deadline=$1 list=() f hold wait_s
  IFS=, read -r -a list <<<"$NEMESIS"
  [ "${list[0]}" = none ] && return 0
  while [ "$(now_rel)" -lt "$deadline" ]; do
    wait_s=$(( INTERVAL + RANDOM % (INTERVAL + 1) ))
    sleep "$wait_s"
    [ "$(now_rel)" -lt "$deadline" ] || break
    nemesis_pick "${list[@]}"
    for f in "${PICKED[@]}"; do nemesis_start "$f"; done
    # Hold longer than an election timeout (pauses must outlast it).
    hold=$(( INTERVAL + RANDOM % (INTERVAL + 1) ))
    # A slow leader is held past its own (slowed) election timeout, so the
    # whole window in which it still believes it leads is exercised.
    [[ " ${PICKED[*]} " == *" slow-leader "* ]] && [ "$hold" -lt "$SLOW_HOLD" ] && hold=$SLOW_HOLD
    sleep "$hold"
    nemesis_stop
  done
}
