#!/usr/bin/env python3
"""report.py: the report of one jepsen run (issue 7 item 7). Static HTML
with inline SVG, no network assets: verdict per checker; a timeline of ops
per process with fault periods shaded; latency and throughput over time;
leader and term per node; availability per fault kind; failover and
recovery times; kick propagation p50/p99/max; acknowledged writes lost;
crashes, assertion failures and sanitizer reports found in node logs.

usage: report.py RUN_DIR [--check-rc N] [--client-rc N] [--heal-time NS]
                 [--unexpected "n1 n2"]
Writes RUN_DIR/results.json and RUN_DIR/index.html. Exit 0 when the run is
valid, 1 when any verdict fails it."""
import argparse
import glob
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ready  # noqa: E402  (sibling module: the ready-before-caught-up check)

WRITES = {"join", "kick", "approve", "untrust", "add", "remove", "write"}
COLORS = {"invoke": "#eeeeee", "ok": "#6DB6FE", "info": "#FFAA26", "fail": "#FEB5DA",
          "rejected": "#9ad29a"}
FAULT_COLORS = {"partition": "#f4a3a3", "kill": "#b0b0ff", "pause": "#ffd27f",
                "clock": "#b8e6b8", "disk": "#d9b3ff", "lose-unsynced": "#ffb3e6",
                "member": "#c0c0c0"}
STATE_COLORS = {"leader": "#2e7d32", "follower": "#90caf9", "candidate": "#ffb300",
                "unavailable": "#bdbdbd", "down": "#e57373"}  # down = no status answer (dead or paused)
LOG_PATTERNS = [
    ("sanitizer", re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)")),
    ("ubsan", re.compile(r"runtime error:")),
    ("assertion", re.compile(r"Assertion .* failed|assertion failed", re.I)),
    ("crash", re.compile(r"SIGSEGV|SIGABRT|Segmentation fault|core dumped")),
]


def load_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
    return out


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def ms(ns):
    return None if ns is None else round(ns / 1e6, 1)


def pair_ops(history):
    """Client ops as dicts: invoke, completion (or None), times, outcome."""
    open_ = {}
    ops = []
    for op in history:
        if op.get("process") == "nemesis":
            continue
        p = op.get("process")
        if op["type"] == "invoke":
            open_[p] = op
        elif p in open_:
            inv = open_.pop(p)
            outcome = op["type"]
            if outcome == "ok" and isinstance(op.get("value"), dict) and "rejected" in op["value"]:
                outcome = "rejected"
            ops.append({"inv": inv, "done": op, "t0": inv["time"], "t1": op["time"],
                        "type": outcome, "f": inv["f"], "process": p, "node": inv.get("node"),
                        "error": op.get("error")})
    for p, inv in open_.items():
        ops.append({"inv": inv, "done": None, "t0": inv["time"], "t1": None, "type": "info",
                    "f": inv["f"], "process": p, "node": inv.get("node"), "error": "no completion"})
    ops.sort(key=lambda o: o["t0"])
    return ops


def fault_windows(nemesis, end):
    """[(kind, start, stop, value)] from start-X / stop-X / heal-all records."""
    wins, active = [], {}
    for op in nemesis:
        f = op["f"]
        if f.startswith("start-"):
            active[f[6:]] = (op["time"], op.get("value"))
        elif f.startswith("stop-") and f[5:] in active:
            t, v = active.pop(f[5:])
            wins.append((f[5:], t, op["time"], v))
        elif f == "heal-all":
            for k, (t, v) in list(active.items()):
                wins.append((k, t, op["time"], v))
            active.clear()
    for k, (t, v) in active.items():
        wins.append((k, t, end, v))
    # Member cycles are instantaneous remove+rejoin: show them as 1 s bands.
    starts = [op for op in nemesis if op["f"] == "start-member"]
    for op in starts:
        wins.append(("member", op["time"], op["time"] + 10**9, op.get("value")))
    wins.sort(key=lambda w: w[1])
    return wins


def parse_check(path):
    verdicts = []
    if not os.path.exists(path):
        return verdicts
    with open(path) as f:
        for line in f:
            m = re.match(r"^([a-z-]+): (valid|invalid|unknown)\b ?(.*)$", line.strip())
            if m:
                verdicts.append({"checker": m.group(1), "verdict": m.group(2),
                                 "detail": m.group(3)})
            elif line.strip() and verdicts:
                verdicts[-1]["detail"] += " " + line.strip()
            elif line.strip():
                verdicts.append({"checker": "history", "verdict": "invalid",
                                 "detail": line.strip()})
    return verdicts


RAFT_CLOSED = re.compile(r"raft closed \((\d+) log truncates, (\d+) held back")


def raft_io_counts(run_dir):
    """Log truncations and barriers raft-glue held back (io_order.c), summed
    over every node process that shut down cleanly (killed ones log none)."""
    out = {"log_truncates": 0, "barriers_held_back": 0}
    for path in glob.glob(os.path.join(run_dir, "nodes", "*", "node.log")):
        with open(path, errors="replace") as f:
            for line in f:
                m = RAFT_CLOSED.search(line)
                if m:
                    out["log_truncates"] += int(m.group(1))
                    out["barriers_held_back"] += int(m.group(2))
    return out


def scan_logs(run_dir):
    found = []
    for path in sorted(glob.glob(os.path.join(run_dir, "nodes", "*", "*"))):
        name = os.path.relpath(path, run_dir)
        base = os.path.basename(path)
        if base.startswith("asan") or base.startswith("ubsan"):
            found.append({"file": name, "kind": "sanitizer", "line": "sanitizer report file"})
            continue
        try:
            with open(path, errors="replace") as f:
                for i, line in enumerate(f):
                    for kind, rx in LOG_PATTERNS:
                        if rx.search(line):
                            found.append({"file": name, "kind": kind, "line_no": i + 1,
                                          "line": line.strip()[:300]})
                            break
        except OSError:
            pass
    return found


# ---- SVG helpers ------------------------------------------------------------

class Plot:
    def __init__(self, w, h, t_end, left=70, top=20, bottom=30):
        self.w, self.h, self.left, self.top, self.bottom = w, h, left, top, bottom
        self.t_end = max(t_end, 1)
        self.parts = []

    def x(self, t):
        return self.left + (self.w - self.left - 10) * max(0, t) / self.t_end

    def add(self, s):
        self.parts.append(s)

    def bands(self, wins):
        for kind, t0, t1, _ in wins:
            x0, x1 = self.x(t0), self.x(t1)
            self.add('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s" opacity="0.45">'
                     '<title>%s %.1f-%.1f s</title></rect>'
                     % (x0, self.top, max(1, x1 - x0), self.h - self.top - self.bottom,
                        FAULT_COLORS.get(kind, "#dddddd"), html.escape(kind), t0 / 1e9, t1 / 1e9))

    def axis(self, label):
        y = self.h - self.bottom
        self.add('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>'
                 % (self.left, y, self.w - 10, y))
        step = max(1, int(self.t_end / 1e9 / 10))
        s = 0
        while s * 1e9 <= self.t_end:
            x = self.x(s * 1e9)
            self.add('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333"/>'
                     '<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%d</text>'
                     % (x, y, x, y + 4, x, y + 15, s))
            s += step
        self.add('<text x="%d" y="%d" font-size="11">%s</text>'
                 % (self.w - 120, self.h - 2, html.escape(label)))

    def svg(self):
        return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
                'style="background:#fff;border:1px solid #ccc">%s</svg>'
                % (self.w, self.h, "".join(self.parts)))


def timeline_svg(ops, wins, t_end):
    procs = sorted({o["process"] for o in ops}, key=lambda p: (isinstance(p, str), p))
    procs = procs[:80]
    lane = {p: i for i, p in enumerate(procs)}
    h = 40 + 12 * len(procs)
    pl = Plot(1100, h, t_end)
    pl.bands(wins)
    for i, p in enumerate(procs):
        pl.add('<text x="4" y="%d" font-size="9">p%s</text>' % (pl.top + 12 * i + 9, p))
    for o in ops[:30000]:
        if o["process"] not in lane:
            continue
        t1 = o["t1"] if o["t1"] is not None else t_end
        x0, x1 = pl.x(o["t0"]), pl.x(t1)
        y = pl.top + 12 * lane[o["process"]]
        pl.add('<rect x="%.1f" y="%d" width="%.1f" height="10" fill="%s">'
               '<title>#%s %s %s %s %s</title></rect>'
               % (x0, y, max(0.8, x1 - x0), COLORS[o["type"]], o["inv"].get("index"),
                  html.escape(str(o["f"])), html.escape(str(o["inv"].get("key", ""))),
                  o["type"], html.escape(str(o.get("error") or ""))))
    pl.axis("time (s)")
    return pl.svg()


def latency_svg(ops, wins, t_end):
    lats = [o["t1"] - o["t0"] for o in ops if o["t1"] is not None]
    top = max(lats) if lats else 1
    pl = Plot(1100, 260, t_end)
    pl.bands(wins)
    ymax = pl.h - pl.bottom
    span = ymax - pl.top
    for o in ops[:30000]:
        if o["t1"] is None:
            continue
        lat = o["t1"] - o["t0"]
        y = ymax - span * lat / top
        pl.add('<circle cx="%.1f" cy="%.1f" r="1.6" fill="%s"/>'
               % (pl.x(o["t0"]), y, COLORS[o["type"]] if o["type"] != "invoke" else "#999"))
    for frac in (0, 0.5, 1):
        y = ymax - span * frac
        pl.add('<text x="2" y="%.1f" font-size="10">%.0f ms</text>' % (y + 3, top * frac / 1e6))
    pl.axis("latency by invoke time (s)")
    return pl.svg()


def rate_svg(ops, wins, t_end):
    buckets = {}
    for o in ops:
        if o["t1"] is not None and o["type"] in ("ok", "rejected"):
            b = int(o["t1"] // 1e9)
            buckets[b] = buckets.get(b, 0) + 1
    top = max(buckets.values()) if buckets else 1
    pl = Plot(1100, 200, t_end)
    pl.bands(wins)
    ymax = pl.h - pl.bottom
    pts = " ".join("%.1f,%.1f" % (pl.x((b + 0.5) * 1e9), ymax - (ymax - pl.top) * buckets.get(b, 0) / top)
                   for b in range(int(t_end // 1e9) + 1))
    pl.add('<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="%s"/>' % pts)
    pl.add('<text x="2" y="%d" font-size="10">%d/s</text>' % (pl.top + 8, top))
    pl.axis("ok ops per second")
    return pl.svg()


def roles_svg(monitor, wins, t_end, names):
    pl = Plot(1100, 40 + 22 * len(names), t_end)
    pl.bands(wins)
    by_node = {n: [m for m in monitor if m["node"] == n] for n in names}
    for i, n in enumerate(names):
        y = pl.top + 22 * i
        pl.add('<text x="4" y="%d" font-size="11">%s</text>' % (y + 13, n))
        rows = by_node[n]
        last_term = None
        for j, m in enumerate(rows):
            t1 = rows[j + 1]["time"] if j + 1 < len(rows) else m["time"] + 250e6
            pl.add('<rect x="%.1f" y="%d" width="%.1f" height="16" fill="%s"><title>%s term %s '
                   'applied %s</title></rect>'
                   % (pl.x(m["time"]), y, max(0.5, pl.x(t1) - pl.x(m["time"])),
                      STATE_COLORS.get(m["state"], "#999"), m["state"], m["term"],
                      m["applied_index"]))
            if m["term"] != last_term and m["state"] != "down":
                pl.add('<text x="%.1f" y="%d" font-size="8" fill="#000">%s</text>'
                       % (pl.x(m["time"]) + 1, y + 11, m["term"]))
                last_term = m["term"]
    pl.axis("role and term per node (s)")
    return pl.svg()


# ---- analysis ----------------------------------------------------------------

def analyse(run_dir, args):
    cfg = json.load(open(os.path.join(run_dir, "config.json")))
    history = load_jsonl(os.path.join(run_dir, "history.jsonl"))
    monitor = load_jsonl(os.path.join(run_dir, "monitor.jsonl"))
    fanout = load_jsonl(os.path.join(run_dir, "fanout.jsonl"))
    nemesis = [op for op in history if op.get("process") == "nemesis"]
    t_end = max([op["time"] for op in history] + [m["time"] for m in monitor] + [1])
    ops = pair_ops(history)
    wins = fault_windows(nemesis, t_end)
    heal_t = args.heal_time if args.heal_time is not None else t_end

    counts, errors, per_node = {}, {}, {}
    for o in ops:
        c = counts.setdefault(o["f"], {"ok": 0, "rejected": 0, "fail": 0, "info": 0})
        c[o["type"]] += 1
        if o["error"]:
            errors[o["error"]] = errors.get(o["error"], 0) + 1
        per_node[o["node"]] = per_node.get(o["node"], 0) + 1

    def kind_at(t):
        for kind, a, b, _ in wins:
            if a <= t <= b:
                return kind
        return "none"

    avail = {}
    for o in ops:
        if o["t0"] > heal_t:
            continue
        k = kind_at(o["t0"])
        a = avail.setdefault(k, {"ok": 0, "total": 0})
        a["total"] += 1
        if o["type"] in ("ok", "rejected"):
            a["ok"] += 1
    for a in avail.values():
        a["availability"] = round(a["ok"] / a["total"], 3) if a["total"] else None

    lat = {}
    for o in ops:
        if o["t1"] is not None and o["type"] in ("ok", "rejected"):
            lat.setdefault(o["f"], []).append(o["t1"] - o["t0"])
    latency = {f: {"p50_ms": ms(pct(v, 50)), "p95_ms": ms(pct(v, 95)), "p99_ms": ms(pct(v, 99)),
                   "max_ms": ms(max(v))} for f, v in lat.items()}

    ok_writes = sorted(o["t1"] for o in ops if o["f"] in WRITES and o["type"] in ("ok", "rejected"))
    failover = []
    for kind, a, b, v in wins:
        nxt = next((t for t in ok_writes if t >= a), None)
        failover.append({"fault": kind, "start_s": round(a / 1e9, 2), "value": v,
                         "first_ok_write_ms": ms(nxt - a) if nxt is not None else None})

    # Recovery after the final heal: first moment all nodes are up with one
    # ready leader, and first ok op.
    rec_all = None
    n = cfg["nodes"]
    # The monitor writes one row per node per round, in node order.
    for i in range(0, len(monitor) - n + 1, n):
        rows = monitor[i:i + n]
        if rows[0]["time"] < heal_t:
            continue
        if all(r["state"] != "down" for r in rows) and \
                any(r["state"] == "leader" and r["ready"] for r in rows):
            rec_all = rows[-1]["time"] - heal_t
            break
    first_ok = next((o["t1"] for o in ops if o["t1"] is not None and o["t1"] >= heal_t
                     and o["type"] in ("ok", "rejected")), None)
    recovery = {"all_nodes_up_with_leader_ms": ms(rec_all),
                "first_ok_op_ms": ms(first_ok - heal_t) if first_ok is not None else None}

    leaders = {}
    for m in monitor:
        if m["state"] == "leader":
            leaders.setdefault(m["term"], set()).add(m["node"])
    two_leaders = {t: sorted(n) for t, n in leaders.items() if len(n) > 1}
    elections = len(leaders)

    deny = [f["deny_ns"] for f in fanout if f["deny_ns"] >= 0]
    stale_allows = sum(f["allows"] for f in fanout)
    never_denied = sum(1 for f in fanout if f["deny_ns"] < 0)
    per_node_deny = {}
    for f in fanout:
        if f["deny_ns"] >= 0:
            per_node_deny.setdefault(f["node"], []).append(f["deny_ns"])
    kick = {"kicks": len({(f["key"], f["time"]) for f in fanout}), "stale_allows": stale_allows,
            "probes_never_denied": never_denied, "p50_ms": ms(pct(deny, 50)),
            "p99_ms": ms(pct(deny, 99)), "max_ms": ms(max(deny)) if deny else None,
            "per_node_p99_ms": {n: ms(pct(v, 99)) for n, v in sorted(per_node_deny.items())}}

    verdicts = parse_check(os.path.join(run_dir, "check.txt"))
    lost = 0
    for v in verdicts:
        if v["checker"] == "lost-ack" and v["verdict"] != "valid":
            m = re.search(r"(\d+) (violation|lost)", v["detail"])
            lost = int(m.group(1)) if m else 1
    verdicts.append({"checker": "election-safety", "verdict": "invalid" if two_leaders else "valid",
                     "detail": ("terms with two leaders: %s" % two_leaders) if two_leaders else
                     "at most one leader per term seen (%d terms with a leader)" % elections})
    verdicts.append(ready.verdict(monitor))
    logs = scan_logs(run_dir)
    verdicts.append({"checker": "node-logs", "verdict": "invalid" if logs else "valid",
                     "detail": "%d crash/assertion/sanitizer lines" % len(logs)})
    verdicts.append({"checker": "recovery", "verdict": "valid" if args.recovered else "invalid",
                     "detail": "a ready leader after the final heal within %s ms"
                     % recovery["all_nodes_up_with_leader_ms"] if args.recovered else
                     "no ready leader within 60 s of the final heal (cluster did not recover)"})
    if args.restart_failed is not None and args.recovered:
        verdicts.append({"checker": "restart", "verdict": "invalid" if args.restart_failed
                         else "valid", "detail": ("after a clean stop: " + args.restart_failed)
                         if args.restart_failed else "every node restarted from its own disk; "
                         "one ready leader, equal applied index and state hash"})
    unexpected = (args.unexpected or "").split()
    verdicts.append({"checker": "unexpected-exits", "verdict": "invalid" if unexpected else "valid",
                     "detail": ("nodes dead without a nemesis kill: " + " ".join(unexpected))
                     if unexpected else "none"})
    # Only an allow is a violation; a node that could not answer within the
    # 1 s probe window (no leader) is an availability figure.
    if stale_allows:
        verdicts.append({"checker": "kick-fanout", "verdict": "invalid",
                         "detail": "%d allows after a kick returned" % stale_allows})
    elif fanout:
        verdicts.append({"checker": "kick-fanout", "verdict": "valid",
                         "detail": "%d kicks, no allow after a kick returned; %d node probes "
                         "got no answer within 1 s" % (kick["kicks"], never_denied)})
    if args.client_rc:
        verdicts.append({"checker": "client", "verdict": "invalid",
                         "detail": "workload driver exited %d" % args.client_rc})
    if args.check_rc not in (0, None) and all(v["verdict"] == "valid" for v in verdicts):
        verdicts.append({"checker": "pilot-check", "verdict": "invalid",
                         "detail": "pilot-check exited %d" % args.check_rc})
    valid = all(v["verdict"] == "valid" for v in verdicts)

    faults = {}
    for kind, a, b, _ in wins:
        f = faults.setdefault(kind, {"count": 0, "total_s": 0.0})
        f["count"] += 1
        f["total_s"] = round(f["total_s"] + (b - a) / 1e9, 2)

    # Memory and fd tracking (soak): first, last and peak per node.
    resources = {}
    for r in load_jsonl(os.path.join(run_dir, "resources.jsonl")):
        e = resources.setdefault(r["node"], {"rss_kb_first": r["rss_kb"], "fds_first": r["fds"],
                                             "rss_kb_max": 0, "fds_max": 0})
        e["rss_kb_last"], e["fds_last"] = r["rss_kb"], r["fds"]
        e["rss_kb_max"] = max(e["rss_kb_max"], r["rss_kb"])
        e["fds_max"] = max(e["fds_max"], r["fds"])

    results = {"valid": valid, "config": cfg, "verdicts": verdicts, "counts": counts,
               "resources": resources,
               "errors": errors, "ops_per_node": per_node, "availability": avail,
               "latency": latency, "failover": failover, "recovery_after_heal": recovery,
               "elections": elections, "kick_propagation": kick,
               "acknowledged_writes_lost": lost, "faults": faults, "log_findings": logs[:50],
               "unexpected_exits": unexpected, "raft_io": raft_io_counts(run_dir)}
    names = sorted({m["node"] for m in monitor}, key=lambda n: int(n[1:]))
    svgs = {"timeline": timeline_svg(ops, wins, t_end), "latency": latency_svg(ops, wins, t_end),
            "rate": rate_svg(ops, wins, t_end), "roles": roles_svg(monitor, wins, t_end, names)}
    return results, svgs


def table(rows, head):
    out = ["<table><tr>%s</tr>" % "".join("<th>%s</th>" % html.escape(h) for h in head)]
    for r in rows:
        out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape("" if c is None else str(c))
                                           for c in r))
    out.append("</table>")
    return "".join(out)


def write_html(run_dir, res, svgs):
    cfg = res["config"]
    v = res["verdicts"]
    legend = " ".join('<span style="background:%s;padding:0 6px">%s</span>' % (c, k)
                      for k, c in list(COLORS.items()) + list(FAULT_COLORS.items()))
    kp = res["kick_propagation"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>jepsen %s %s seed %s</title>"
        % (html.escape(cfg["workload"]), html.escape(cfg["nemesis"]), cfg["seed"]),
        "<style>body{font-family:sans-serif;margin:20px;max-width:1150px}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;"
        "font-size:13px;text-align:left}.valid{color:#2e7d32;font-weight:bold}"
        ".invalid,.unknown{color:#c62828;font-weight:bold}h2{margin-top:28px}</style></head><body>",
        "<h1>%s: %s under %s</h1>" % ("PASS" if res["valid"] else "FAIL",
                                      html.escape(cfg["workload"]), html.escape(cfg["nemesis"])),
        "<p>seed %s, %s nodes, %s s, concurrency %s, rate %s/s, data %s, canary %s, git %s, "
        "libraft %s, kernel %s</p>" % (cfg["seed"], cfg["nodes"], cfg["time_limit"],
                                       cfg["concurrency"], cfg["rate"], cfg["data_mode"],
                                       cfg["canary"] or "none", cfg["git"], cfg["libraft"],
                                       cfg["kernel"]),
        "<p>Replay: <code>%s</code></p>" % html.escape(cfg["replay"]),
        "<h2>Verdicts</h2><table><tr><th>checker</th><th>verdict</th><th>detail</th></tr>",
    ]
    for x in v:
        parts.append("<tr><td>%s</td><td class='%s'>%s</td><td>%s</td></tr>"
                     % (html.escape(x["checker"]), x["verdict"], x["verdict"],
                        html.escape(x["detail"])))
    parts.append("</table>")
    parts.append("<p>Acknowledged writes lost: <b>%d</b> (must be 0). Elections (terms with a "
                 "leader): %d. Log truncations: %d; truncates or snapshot writes held back "
                 "behind another (io_order.c): %d (summed over the nodes that shut down "
                 "cleanly).</p>" % (res["acknowledged_writes_lost"], res["elections"],
                                   res["raft_io"]["log_truncates"],
                                   res["raft_io"]["barriers_held_back"]))
    parts.append("<h2>Timeline</h2><p>%s</p>%s" % (legend, svgs["timeline"]))
    parts.append("<h2>Latency</h2>%s<h2>Throughput</h2>%s" % (svgs["latency"], svgs["rate"]))
    parts.append("<h2>Leader and term per node</h2><p>%s</p>%s" % (
        " ".join('<span style="background:%s;padding:0 6px">%s</span>' % (c, k)
                 for k, c in STATE_COLORS.items()), svgs["roles"]))
    parts.append("<h2>Operations</h2>" + table(
        [(f, c["ok"], c["rejected"], c["fail"], c["info"]) for f, c in sorted(res["counts"].items())],
        ["f", "ok", "ok (rejected)", "fail", "info"]))
    parts.append(table(sorted(res["errors"].items()), ["error", "count"]))
    parts.append("<h2>Availability per fault kind</h2>" + table(
        [(k, a["ok"], a["total"], a["availability"]) for k, a in sorted(res["availability"].items())],
        ["window", "ok", "total", "availability"]))
    parts.append("<h2>Latency per op (ok)</h2>" + table(
        [(f, l["p50_ms"], l["p95_ms"], l["p99_ms"], l["max_ms"]) for f, l in sorted(res["latency"].items())],
        ["f", "p50 ms", "p95 ms", "p99 ms", "max ms"]))
    parts.append("<h2>Faults and failover</h2>" + table(
        [(k, f["count"], f["total_s"]) for k, f in sorted(res["faults"].items())],
        ["fault", "count", "total s"]))
    parts.append(table([(f["fault"], f["start_s"], json.dumps(f["value"]), f["first_ok_write_ms"])
                        for f in res["failover"]],
                       ["fault", "start s", "targets", "first ok write after start (ms)"]))
    r = res["recovery_after_heal"]
    parts.append("<h2>Recovery after the final heal</h2><p>all nodes up with a ready leader "
                 "after %s ms; first ok operation after %s ms.</p>"
                 % (r["all_nodes_up_with_leader_ms"], r["first_ok_op_ms"]))
    parts.append("<h2>Kick propagation</h2><p>%s kicks; allows after a kick returned: <b>%s</b> "
                 "(must be 0); kick ok to deny on every node: p50 %s ms, p99 %s ms, max %s ms; "
                 "per node p99: %s</p>" % (kp["kicks"], kp["stale_allows"], kp["p50_ms"],
                                           kp["p99_ms"], kp["max_ms"],
                                           html.escape(json.dumps(kp["per_node_p99_ms"]))))
    parts.append("<h2>Memory and file descriptors per node</h2>" + table(
        [(n, e["rss_kb_first"], e.get("rss_kb_last"), e["rss_kb_max"], e["fds_first"],
          e.get("fds_last"), e["fds_max"]) for n, e in sorted(res["resources"].items())],
        ["node", "RSS KiB first", "last", "max", "fds first", "last", "max"]))
    parts.append("<h2>Node logs</h2>")
    if res["log_findings"]:
        parts.append(table([(x["file"], x["kind"], x.get("line_no"), x["line"])
                            for x in res["log_findings"]], ["file", "kind", "line", "text"]))
    else:
        parts.append("<p>No crash, assertion or sanitizer report in node logs.</p>")
    parts.append("<p>Files: history.jsonl, history.edn (Jepsen EDN), results.json, check.txt, "
                 "monitor.jsonl, fanout.jsonl, nodes/*/node.log.</p></body></html>")
    with open(os.path.join(run_dir, "index.html"), "w") as f:
        f.write("\n".join(parts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--check-rc", type=int, default=None)
    ap.add_argument("--client-rc", type=int, default=0)
    ap.add_argument("--heal-time", type=int, default=None)
    ap.add_argument("--unexpected", default="")
    ap.add_argument("--recovered", type=int, default=1)
    ap.add_argument("--restart-failed", default=None)
    args = ap.parse_args()
    res, svgs = analyse(args.run_dir, args)
    with open(os.path.join(args.run_dir, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=str)
    write_html(args.run_dir, res, svgs)
    for v in res["verdicts"]:
        if v["verdict"] != "valid":
            print("jepsen: %s: %s %s" % (v["checker"], v["verdict"], v["detail"]))
    # CI keeps only the console: name the first findings so a failure there
    # can be diagnosed without the run directory.
    for f in res["log_findings"][:5]:
        print("jepsen: node-logs: %s:%s: %s" % (f["file"], f.get("line_no", "-"), f["line"]))
    return 0 if res["valid"] else 1


if __name__ == "__main__":
    sys.exit(main())
