#!/usr/bin/env python3
"""windows.py: windowed checking for long (soak) runs (issue 7 item 8).
Keys rotate, so the history is cut by key: a key belongs to the window in
which its first op was invoked, and all of that key's ops (final reads
included) go with it. Ops without a key (state-hash probes) go to every
window. Each window is checked by pilot-check on its own, so checker memory
stays bounded however long the run; check.txt gets one line per checker
(invalid or unknown if any window is).

usage: windows.py RUN_DIR PILOT_CHECK MODEL WINDOW_SECONDS"""
import json
import os
import re
import subprocess
import sys


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    run_dir, check, model, win_s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    first, ops = {}, []
    with open(os.path.join(run_dir, "history.jsonl")) as f:
        for line in f:
            op = json.loads(line)
            ops.append(op)
            k = op.get("key")
            if k is not None and k not in first:
                first[k] = op["time"] // (win_s * 10**9)
    n = max(first.values()) + 1 if first else 1
    wdir = os.path.join(run_dir, "windows")
    os.makedirs(wdir, exist_ok=True)
    files = [open(os.path.join(wdir, "w%03d.jsonl" % i), "w") for i in range(n)]
    for op in ops:
        k = op.get("key")
        targets = [first[k]] if k is not None else range(n)
        if op.get("process") == "nemesis":
            continue
        for i in targets:
            files[i].write(json.dumps(op, separators=(",", ":")) + "\n")
    for f in files:
        f.close()
    agg, rc_all = {}, 0
    for i in range(n):
        path = os.path.join(wdir, "w%03d.jsonl" % i)
        p = subprocess.run([check, "--model", model, "--budget-ms", "20000", path],
                           capture_output=True, text=True)
        rc_all = rc_all or p.returncode
        with open(path[:-6] + ".check.txt", "w") as out:
            out.write(p.stdout + p.stderr)
        for line in (p.stdout + p.stderr).splitlines():
            m = re.match(r"^([a-z-]+): (valid|invalid|unknown)\b ?(.*)$", line)
            if not m:
                continue
            a = agg.setdefault(m.group(1), {"verdict": "valid", "windows": 0, "detail": ""})
            a["windows"] += 1
            if m.group(2) != "valid" and a["verdict"] == "valid":
                a["verdict"] = m.group(2)
                a["detail"] = "window %d: %s" % (i, m.group(3))
    with open(os.path.join(run_dir, "check.txt"), "w") as out:
        for name, a in agg.items():
            out.write("%s: %s (%d windows of %d s) %s\n"
                      % (name, a["verdict"], a["windows"], win_s, a["detail"]))
    return 1 if rc_all else 0


if __name__ == "__main__":
    sys.exit(main())
