#!/usr/bin/env bash
# tests/jepsen/nemesis_schedule.sh: the nemesis schedule replays from its
# seed and composes faults as documented (jepsen/lib/nemesis.sh). No
# cluster: the random helpers are pure shell. Exits non-zero on the first
# broken property.
set -u
fail() { echo "nemesis_schedule: FAIL: $*" >&2; exit 1; }

NODES=5
leader_node() { echo 3; }   # the one cluster query the helpers make
# shellcheck source=../../jepsen/lib/nemesis.sh
source "$(dirname "$0")/../../jepsen/lib/nemesis.sh"

# A schedule: what the helpers choose over a few cycles from one seed.
schedule() {
  local out="" i
  RANDOM=$1
  for i in 1 2 3 4 5 6 7 8; do
    shuffle_nodes; out+="shuffle=${SHUF[*]};"
    targets majority; out+="majority=${TGT[*]};"
    targets minority; out+="minority=${TGT[*]};"
    targets one; out+="one=${TGT[*]};"
    nemesis_pick partition kill pause; out+="pick=${PICKED[*]};"
  done
  echo "$out"
}

# 1. Same seed, same schedule; other seed, other schedule. (bash reseeds
#    RANDOM in subshells, so a helper that drew in one would break this.)
a=$(schedule 42); b=$(schedule 42); c=$(schedule 43)
[ "$a" = "$b" ] || fail "seed 42 gave two schedules"
[ "$a" != "$c" ] || fail "seeds 42 and 43 gave the same schedule"

# 2. Shapes: a permutation, a majority, a minority, one node in range.
for s in $(seq 1 200); do
  RANDOM=$s
  shuffle_nodes
  [ "$(printf '%s\n' "${SHUF[@]}" | sort -n | tr '\n' ' ')" = "1 2 3 4 5 " ] ||
    fail "seed $s: shuffle ${SHUF[*]} is not a permutation of 1..5"
  targets majority; [ "${#TGT[@]}" = 3 ] || fail "seed $s: majority of 5 has ${#TGT[@]} nodes"
  targets minority; [ "${#TGT[@]}" = 2 ] || fail "seed $s: minority of 5 has ${#TGT[@]} nodes"
  targets one; [ "${TGT[0]}" -ge 1 ] && [ "${TGT[0]}" -le 5 ] || fail "seed $s: node ${TGT[0]}"
  targets leader; [ "${TGT[*]}" = 3 ] || fail "seed $s: leader target ${TGT[*]}"
done

# 3. Composition: one word is always that fault; a list yields at least one
#    fault, never two of one class, and over many cycles overlaps happen.
overlaps=0
for s in $(seq 1 400); do
  RANDOM=$s
  nemesis_pick kill-leader
  [ "${PICKED[*]}" = kill-leader ] || fail "single fault list picked '${PICKED[*]}'"
  nemesis_pick partition kill stop pause
  [ "${#PICKED[@]}" -ge 1 ] || fail "seed $s: empty pick"
  classes=$(for f in "${PICKED[@]}"; do nemesis_class "$f"; done | sort | uniq -d)
  [ -z "$classes" ] || fail "seed $s: two faults of class $classes in '${PICKED[*]}'"
  [ "${#PICKED[@]}" -ge 2 ] && overlaps=$((overlaps + 1))
done
[ "$overlaps" -ge 100 ] || fail "only $overlaps of 400 cycles overlapped faults"
echo "nemesis_schedule: ok ($overlaps of 400 cycles overlapped)"
