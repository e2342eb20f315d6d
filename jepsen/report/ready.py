"""jepsen/report/ready.py: the ready-before-caught-up check over monitor.jsonl.

A new leader may call itself ready (serve reads, membership) only after its
leader-init barrier commits (raft-0.15-notes §0 item 5). The barrier is
appended after every entry the leader held when elected, so once a leader
of term T reports ready, its commit index is above the last index it held
at its election.

The monitor cannot see that last index at the instant of the election, but
it sees a lower bound: the node's own last_index in a sample taken while it
was a candidate in T, or a follower or candidate in T-1, with no sample of
the node down in between (a restart may lose unsynced log entries). Between
that sample and the election no leader of a term in (T-1, T) exists, so
only the leader of T-1 could have truncated the node's log, which needs
stale entries of an older term on it (the one assumption of this check).

Violation: a sample of node X as leader of term T with ready = true and
commit_index below that bound. Samples from before this field existed (no
last_index) are skipped.
"""


def check(monitor):
    """Return (violations, leaders_checked); each violation is a dict."""
    bound = {}     # node -> (term, state, last_index) of its latest pre-leader sample
    checked = set()
    bad = []
    for m in monitor:
        node, state, term = m["node"], m["state"], m.get("term", 0)
        if "last_index" not in m:
            continue
        if state == "down":
            bound.pop(node, None)
            continue
        if state in ("follower", "candidate"):
            bound[node] = (term, state, m["last_index"])
            continue
        if state != "leader" or not m.get("ready"):
            continue
        b = bound.get(node)
        if b is None:
            continue
        bterm, bstate, blast = b
        if not (bterm == term - 1 or (bterm == term and bstate == "candidate")):
            continue
        checked.add((node, term))
        if m["commit_index"] < blast:
            bad.append({"node": node, "term": term, "time": m["time"],
                        "commit_index": m["commit_index"], "last_index_before": blast})
    return bad, len(checked)


def verdict(monitor):
    """The checker line for report.py."""
    bad, n = check(monitor)
    if bad:
        first = bad[0]
        return {"checker": "ready-before-caught-up", "verdict": "invalid",
                "detail": "%d ready-leader samples below their election log; first: %s leader "
                "of term %d ready at %.3f s with commit_index %d < last_index %d held before "
                "its election" % (len(bad), first["node"], first["term"], first["time"] / 1e9,
                                  first["commit_index"], first["last_index_before"])}
    return {"checker": "ready-before-caught-up", "verdict": "valid",
            "detail": "%d leader terms checked: every ready leader had committed its "
            "election-time log" % n}
