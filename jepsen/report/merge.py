#!/usr/bin/env python3
"""merge.py: joins the client history and the nemesis log of one run into
history.jsonl (one monotonic clock, dense indexes, nemesis ops as process
"nemesis" type info) and writes the Jepsen-readable history.edn beside it.

usage: merge.py RUN_DIR"""
import json
import sys


def edn(v):
    """A JSON value as EDN: object keys become keywords, null nil."""
    if v is None:
        return "nil"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + " ".join(edn(x) for x in v) + "]"
    return "{" + ", ".join(":%s %s" % (k, edn(x)) for k, x in v.items()) + "}"


# Fields whose string values are Jepsen keywords (:invoke, :read, :nemesis).
KEYWORD_FIELDS = ("type", "f")


def edn_op(op):
    parts = []
    for k, v in op.items():
        if k in KEYWORD_FIELDS and isinstance(v, str):
            parts.append(":%s :%s" % (k, v))
        elif k == "process" and v == "nemesis":
            parts.append(":process :nemesis")
        elif k == "error" and isinstance(v, str):
            parts.append(":error :%s" % v)
        else:
            parts.append(":%s %s" % (k, edn(v)))
    return "{" + ", ".join(parts) + "}"


def load(path):
    ops = []
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    ops.append(json.loads(line))
    except FileNotFoundError:
        pass
    return ops


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    client = load(d + "/history.client.jsonl")
    nemesis = load(d + "/nemesis.jsonl")
    tagged = [(op["time"], 0, i, op) for i, op in enumerate(client)]
    tagged += [(op["time"], 1, i, op) for i, op in enumerate(nemesis)]
    tagged.sort(key=lambda t: (t[0], t[1], t[2]))
    with open(d + "/history.jsonl", "w") as out, open(d + "/history.edn", "w") as e:
        e.write("[\n")
        for idx, (_, _, _, op) in enumerate(tagged):
            op["index"] = idx
            out.write(json.dumps(op, separators=(",", ":")) + "\n")
            e.write(edn_op(op) + "\n")
        e.write("]\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
