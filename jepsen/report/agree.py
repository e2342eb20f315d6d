#!/usr/bin/env python3
"""agree.py: does a cluster agree? Reads the lines of `pilot-jepsen-client
status` (name role term applied commit ready leader state_hash) on stdin and
exits 0 when there are N of them, none down, exactly one ready leader, and
every node is at the same applied index with the same state hash. Otherwise
exits 1 and prints one line saying what is wrong. jepsen/run uses it for the
restart check.

usage: agree.py N < status.txt"""
import sys


def disagreement(lines, n):
    """None if the status lines show agreement, else the reason."""
    rows = [ln.split() for ln in lines if ln.strip()]
    if len(rows) != n:
        return "%d of %d nodes listed" % (len(rows), n)
    if any(len(r) < 8 for r in rows):
        return "status lines without a state hash (a pilot-jepsen-client older than the run?)"
    down = [r[0] for r in rows if r[1] == "down" or r[7] == "-"]
    if down:
        return "down: " + " ".join(down)
    leaders = [r[0] for r in rows if r[1] == "leader" and r[5] == "1"]
    if len(leaders) != 1:
        return "%d ready leaders" % len(leaders)
    if len({r[3] for r in rows}) != 1 or len({r[7] for r in rows}) != 1:
        return "applied/hash differ: " + "; ".join("%s %s %s" % (r[0], r[3], r[7][:12])
                                                   for r in rows)
    return None


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    why = disagreement(sys.stdin.read().splitlines(), int(sys.argv[1]))
    if why:
        print(why)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
