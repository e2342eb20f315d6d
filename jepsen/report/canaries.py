#!/usr/bin/env python3
"""canaries.py: detection rate per canary and fault (issue 7 item 6) from
the nightly profile's canaries.jsonl, as a Markdown table.

usage: canaries.py CANARIES_JSONL
       canaries.py --check CANARIES_JSONL   exit 1 if a canary was never
                                            detected (names it on stderr)"""
import json
import sys


def main():
    check = len(sys.argv) == 3 and sys.argv[1] == "--check"
    if len(sys.argv) != 2 and not check:
        print(__doc__, file=sys.stderr)
        return 2
    rows = {}
    with open(sys.argv[-1]) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                k = (r["canary"], r["fault"], r["workload"])
                d = rows.setdefault(k, [0, 0])
                d[0] += 1 if r["detected"] else 0
                d[1] += 1
    if check:
        per = {}
        for (c, _, _), (det, _) in rows.items():
            per[c] = per.get(c, 0) + det
        missed = sorted(c for c, det in per.items() if det == 0)
        for c in missed:
            print("canary %s was never detected" % c, file=sys.stderr)
        return 1 if missed or not per else 0
    print("| canary | fault | workload | detected | runs | rate |")
    print("|---|---|---|---|---|---|")
    per = {}
    for (c, fa, w), (det, n) in sorted(rows.items()):
        print("| %s | %s | %s | %d | %d | %.0f%% |" % (c, fa, w, det, n, 100.0 * det / n))
        p = per.setdefault(c, [0, 0])
        p[0] += det
        p[1] += n
    print()
    print("| canary | detection rate over all faults |")
    print("|---|---|")
    for c, (det, n) in sorted(per.items()):
        print("| %s | %d/%d (%.0f%%) |" % (c, det, n, 100.0 * det / n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
