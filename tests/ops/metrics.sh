#!/usr/bin/env bash
# /metrics is valid Prometheus text exposition (0.0.4) on every node and
# carries the documented pilot_* metrics; counters move with traffic.
source "$(dirname "$0")/lib.sh"

base=$(free_base) || fail "no free port base"
dir=$OPS_TMP/cluster
cluster_up "$dir" "$base" --nodes 3
export PILOT_REGISTRY=127.0.0.1:$base
ctl_ok init
ctl_ok register --hostname metrics-a
ctl_ok network create --name metrics-net
# Followers apply a moment after the leader acknowledged.
wait_for 10 converged "$base" 1 2 3 || fail "nodes did not converge"

for i in 1 2 3; do
  curl -s -m 2 -D "$OPS_TMP/h$i" "http://127.0.0.1:$(http_port_of "$base" "$i")/metrics" > "$OPS_TMP/m$i.txt" \
    || fail "node $i /metrics"
  grep -qi '^content-type: text/plain; version=0.0.4' "$OPS_TMP/h$i" || fail "node $i content type"
  python3 - "$OPS_TMP/m$i.txt" <<'PY' || fail "node $i /metrics is not valid exposition text"
import re, sys
name_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
sample_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.eE+-]+|\+Inf|-Inf|NaN)$')
types, helped, seen, hist = {}, set(), set(), {}
text = open(sys.argv[1]).read()
assert text.endswith("\n"), "no final newline"
for ln in text.splitlines():
    if ln.startswith("# HELP "):
        n = ln.split()[2]; assert name_re.match(n), ln; assert n not in helped, "dup HELP " + n; helped.add(n)
    elif ln.startswith("# TYPE "):
        _, _, n, t = ln.split(); assert t in ("counter", "gauge", "histogram", "summary", "untyped"), ln
        assert n not in types, "dup TYPE " + n; assert n not in seen, "TYPE after samples " + n; types[n] = t
    elif ln.startswith("#") or not ln:
        continue
    else:
        m = sample_re.match(ln); assert m, "bad sample: " + ln
        n = m.group(1); base = re.sub(r'_(bucket|sum|count)$', '', n)
        fam = base if base in types and types[base] == "histogram" else n
        assert fam in types, "sample without TYPE: " + ln
        seen.add(fam)
        v = float(ln.rsplit(" ", 1)[1])
        if types[fam] == "counter": assert v >= 0, ln
        if n.endswith("_bucket"): hist.setdefault(fam, []).append((m.group(0), v))
        if types[fam] == "histogram" and n.endswith("_count"): hist.setdefault(fam + "#count", v)
for fam, t in types.items():
    if t != "histogram": continue
    b = hist.get(fam, []); assert b and 'le="+Inf"' in b[-1][0], "histogram without +Inf: " + fam
    vals = [v for _, v in b]; assert vals == sorted(vals), "buckets not cumulative: " + fam
    assert vals[-1] == hist[fam + "#count"], "+Inf != count: " + fam
print(len(types), "families ok")
PY
  for m in pilot_raft_has_leader pilot_raft_is_leader pilot_raft_leader_changes_total pilot_raft_term \
           pilot_raft_commit_index pilot_raft_applied_index pilot_raft_proposals_committed_total \
           pilot_raft_proposals_failed_total pilot_raft_proposals_pending \
           pilot_raft_commit_duration_seconds_bucket pilot_fsm_apply_duration_seconds_count \
           pilot_requests_forwarded_total pilot_agents_registered pilot_networks pilot_trust_pairs \
           pilot_clients_connected pilot_build_info pilot_raft_leader_probes_total \
           pilot_raft_fast_elections_total; do
    grep -q "^$m[ {]" "$OPS_TMP/m$i.txt" || fail "node $i /metrics lacks $m"
  done
  grep -q '^pilot_raft_has_leader 1$' "$OPS_TMP/m$i.txt" || fail "node $i has no leader"
  grep -q '^pilot_agents_registered 1$' "$OPS_TMP/m$i.txt" || fail "node $i agents_registered != 1"
  grep -q '^pilot_networks 1$' "$OPS_TMP/m$i.txt" || fail "node $i networks != 1"
done
# Exactly one leader, and its proposals were committed (the two writes).
[ "$(cat "$OPS_TMP"/m*.txt | grep -c '^pilot_raft_is_leader 1$')" = 1 ] || fail "is_leader count"
l=$(grep -l '^pilot_raft_is_leader 1$' "$OPS_TMP"/m*.txt)
c=$(grep '^pilot_raft_proposals_committed_total ' "$l" | cut -d' ' -f2)
[ "${c%%.*}" -ge 2 ] || fail "leader committed $c proposals (want >= 2)"
ops_log "ok: /metrics valid on 3 nodes, leader committed $c proposals"
