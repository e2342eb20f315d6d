#!/usr/bin/env bash
# jepsen/lib/profile.sh PROFILE SEED BIN STORE CANARY: the run lists of the
# profiles (issue 7 item 8; fault-injection.md §5.9), called by jepsen/run.
#
#   smoke    3 nodes, ~60 s each: none, partition+kill, pause-leader with
#            kick-fanout, lost-unsynced-all with durability (ctest runs the
#            same four through tests/jepsen).
#   nightly  5 nodes, 180-240 s each: jepsen.dqlite's 13 nemesis
#            combinations (packet -> oneway partition: no netem here) plus
#            clock, member+partition, disk, lost-unsynced and
#            lagging-quorum; then every
#            canary against the faults meant to expose it, with a detection
#            table (canaries.md / canaries.json).
#            Then the same faults and settings on the normal build
#            (controls), which must pass. JEPSEN_NIGHTLY_PARTS="matrix
#            canaries controls" (the default) picks the parts, so they can
#            run on separate occasions.
#   soak     5 nodes, hours (JEPSEN_SOAK_S, default 4 h) of rotating faults
#            with windowed checking and per-node memory and fd tracking.
# Every run's seed derives from SEED, so a profile replays.
set -uo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=$1 SEED=$2 BIN=$3 STORE=$4 CANARY=$5
RUN="$HERE/run"
STAMP=$(date +%Y%m%dT%H%M%S)
SUMMARY="$STORE/profile-$PROFILE-$STAMP"
mkdir -p "$SUMMARY"
pass=0 fail=0
ROWS=()

one() { # one NODES TIME NEMESIS WORKLOAD [CANARY [EXTRA ARGS...]]
  local s=$(( SEED + ${#ROWS[@]} * 7919 )) rc
  local args=(--nodes "$1" --time-limit "$2" --nemesis "$3" --workload "$4" --seed "$s"
              --store "$STORE")
  # A canary needs its own build, which jepsen/run makes when no --bin-dir
  # is given.
  [ -n "$BIN" ] && [ -z "${5:-}" ] && args+=(--bin-dir "$BIN")
  [ -n "${5:-}" ] && args+=(--canary "$5")
  [ $# -gt 5 ] && args+=("${@:6}")
  echo "=== profile $PROFILE: ${args[*]}"
  "$RUN" "${args[@]}" 2>&1 | tee "$SUMMARY/run-${#ROWS[@]}.log" | grep -E "^jepsen: (PASS|FAIL|seed|report)|invalid|unknown"
  rc=${PIPESTATUS[0]}
  ROWS+=("$1|$2|$3|$4|${5:-}|$s|$rc")
  return "$rc"
}

case "$PROFILE" in
  smoke)
    one 3 60 none registry "$CANARY" && pass=$((pass+1)) || fail=$((fail+1))
    one 3 60 partition,kill registry "$CANARY" && pass=$((pass+1)) || fail=$((fail+1))
    one 3 60 pause-leader kick-fanout "$CANARY" && pass=$((pass+1)) || fail=$((fail+1))
    one 3 60 lost-unsynced-all durability "$CANARY" && pass=$((pass+1)) || fail=$((fail+1))
    ;;
  nightly)
    PARTS=" ${JEPSEN_NIGHTLY_PARTS:-matrix canaries controls} "
    T=${JEPSEN_NIGHTLY_S:-200}
    # JEPSEN_SHARD=K/N runs every N-th run of the profile from the K-th
    # (0-based; matrix entries, canary runs and controls counted in one
    # sequence), so N machines (or N namespaced runs on one) share it.
    # JEPSEN_MATRIX_SHARD is its earlier name.
    IFS=/ read -r SHARD_K SHARD_N <<<"${JEPSEN_SHARD:-${JEPSEN_MATRIX_SHARD:-0/1}}"
    [[ "$SHARD_K" =~ ^[0-9]+$ && "$SHARD_N" =~ ^[1-9][0-9]*$ && "$SHARD_K" -lt "$SHARD_N" ]] ||
      { echo "profile: JEPSEN_SHARD must be K/N with 0 <= K < N" >&2; exit 2; }
    m=0
    mine() { m=$((m + 1)); [ $(( (m - 1) % SHARD_N )) = "$SHARD_K" ]; }
    if [[ "$PARTS" == *" matrix "* ]]; then
      for spec in none:registry partition:registry kill:durability stop:registry \
                  disk:durability member:registry partition,stop:registry \
                  partition,kill:durability partition,member:members \
                  partition-oneway,stop:registry pause:kick-fanout partition,disk:registry \
                  pause,disk:members clock:registry member,partition:registry \
                  lost-unsynced:durability lost-unsynced-all:durability \
                  pause-leader:kick-fanout partition-leader:kick-fanout \
                  lagging-quorum:registry; do
        mine || continue
        one 5 "$T" "${spec%%:*}" "${spec#*:}" "$CANARY" && pass=$((pass+1)) || fail=$((fail+1))
      done
    fi
    # Canaries: each deliberately broken build must be caught. A canary
    # run that passes is a detection miss, so exit codes flip here.
    # CANARY:FAULT:WORKLOAD[:DISK_MS]. NO_INIT_BARRIER's window is the new
    # leader shipping entries to lagging followers and their disk writes
    # (lagging-quorum), which the 100 ms status monitor sees when the writes
    # take 300 ms. Frequent faults, a slow disk, a higher rate and 30 client
    # processes (more writes in flight when a fault strikes) give each
    # window more chances: with 10 processes the rate stays near 37 ops/s
    # and EARLY_ACK / LOST_AS_FAIL are caught in about half the runs.
    # LOST_AS_FAIL needs a client that hears the deposed leader's failure
    # and cannot retry elsewhere (the retry, same request id, would be
    # deduplicated into the original's result): a cut-off leader's own
    # clients under partition-leader. A paused leader's clients mostly time
    # out first (info; caught once in four pause-leader runs); the members workload's
    # frequent set reads show a failed kick or join that applied at once.
    # Two runs of each (JEPSEN_CANARY_RUNS) because single runs catch the
    # timing-bound canaries about half the time.
    TC=${JEPSEN_CANARY_S:-120}
    CANARY_SPECS=(NO_READ_BARRIER:slow-leader:kick-fanout NO_READ_BARRIER:partition-leader:kick-fanout
                  EARLY_ACK:partition-leader:registry EARLY_ACK:kill:registry
                  LOST_AS_FAIL:partition-leader:registry LOST_AS_FAIL:partition-leader:members
                  NO_FSYNC:lost-unsynced-all:durability NO_FSYNC:lost-unsynced:durability
                  NO_DEDUP:kill:registry NO_DEDUP:partition:registry
                  NO_INIT_BARRIER:lagging-quorum:registry:300 NO_INIT_BARRIER:lagging-quorum:kick-fanout:300)
    canary_args() { # DISK_MS -> CARGS, the run options canaries and controls share
      CARGS=(--interval 3 --disk-latency "${1:-40}" --rate "${JEPSEN_CANARY_RATE:-250}"
             --concurrency "${JEPSEN_CANARY_CONCURRENCY:-30}")
    }
    if [[ "$PARTS" == *" canaries "* ]]; then
      : >"$SUMMARY/canaries.jsonl"
      for spec in "${CANARY_SPECS[@]}"; do
        IFS=: read -r c f w dl <<<"$spec"
        canary_args "$dl"
        for rep in $(seq 1 "${JEPSEN_CANARY_RUNS:-2}"); do
          mine || continue
          # Detected means a checker said invalid; a run that broke for
          # another reason (build, setup, no recovery) is not a detection.
          det=false
          if ! one 5 "$TC" "$f" "$w" "$c" "${CARGS[@]}" &&
             grep -qE '(^|: )[a-z-]+: invalid' "$SUMMARY/run-$(( ${#ROWS[@]} - 1 )).log"; then
            det=true
          fi
          printf '{"canary":"%s","fault":"%s","workload":"%s","run":%s,"detected":%s}\n' \
            "$c" "$f" "$w" "$rep" "$det" >>"$SUMMARY/canaries.jsonl"
        done
      done
      python3 "$HERE/report/canaries.py" "$SUMMARY/canaries.jsonl" >"$SUMMARY/canaries.md"
      cat "$SUMMARY/canaries.md"
      # The issue's bar: every canary is detected by the suite (by at
      # least one of its runs); the table gives the rate per fault. A shard
      # holds only some runs: the bar applies to all shards' files joined.
      if [ "$SHARD_N" != 1 ]; then
        echo "profile: shard $SHARD_K/$SHARD_N; check the canaries over every shard:" \
             "cat */canaries.jsonl | python3 jepsen/report/canaries.py --check /dev/stdin"
      elif ! python3 "$HERE/report/canaries.py" --check "$SUMMARY/canaries.jsonl"; then
        fail=$((fail+1))
      fi
    fi
    # Controls: the normal build under every fault, workload and setting a
    # canary ran with must pass, so a detection is the canary's doing.
    if [[ "$PARTS" == *" controls "* ]]; then
      declare -A seen=()
      for spec in "${CANARY_SPECS[@]}"; do
        IFS=: read -r c f w dl <<<"$spec"
        [ -n "${seen[$f:$w:$dl]:-}" ] && continue
        seen[$f:$w:$dl]=1
        mine || continue
        canary_args "$dl"
        one 5 "$TC" "$f" "$w" "" "${CARGS[@]}" && pass=$((pass+1)) || fail=$((fail+1))
      done
    fi
    ;;
  soak)
    S=${JEPSEN_SOAK_S:-14400}
    one 5 "$S" partition,kill,pause,clock,member,lost-unsynced registry "$CANARY" \
      && pass=$((pass+1)) || fail=$((fail+1))
    ;;
  *) echo "jepsen/run: unknown profile $PROFILE (smoke|nightly|soak)" >&2; exit 2 ;;
esac

{
  echo "| nodes | s | nemesis | workload | canary | seed | result |"
  echo "|---|---|---|---|---|---|---|"
  for r in "${ROWS[@]}"; do
    IFS='|' read -r n t nem w c s rc <<<"$r"
    echo "| $n | $t | $nem | $w | ${c:--} | $s | $([ "$rc" = 0 ] && echo pass || echo FAIL) |"
  done
} >"$SUMMARY/summary.md"
cat "$SUMMARY/summary.md"
echo "jepsen profile $PROFILE: $pass passed, $fail failed (summary: $SUMMARY)"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
