#!/usr/bin/env python3
"""tree, why and graph on a small real session (tests/analyzer).

A shell script under `ctrace run` creates a file, copies it, deletes a
folder with rm -rf, writes and runs a script, and carries an argument with
a quote and a control character.  The views must show: the tree of
processes with argv, exit and counts; the chain sh -> rm -> unlink with the
data flow behind the deleted file (created by cp, which read a file the
shell wrote); the data-flow edges of the graph, in text, DOT and JSON.

    views.py CTRACE
"""
import json
import os
import subprocess
import sys
import tempfile

from checks import check, ctrace_env, ctrace_runner, finish

SCRIPT = ('mkdir d; echo hi > d/a; cat d/a >/dev/null; cp d/a d/b; '
          'rm -rf d; printf "#!/bin/sh\\necho x\\n" > s.sh; chmod +x s.sh; '
          './s.sh "$0"')
ODD = 'q"uo\x01te'



def main():
    ctrace = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        proj = os.path.join(tmp, "p")
        os.mkdir(proj)
        env = ctrace_env(os.path.join(tmp, "store"), tmp)

        ct = ctrace_runner(ctrace, env, proj)

        ct("run", "--quiet", "--", "sh", "-c", SCRIPT, ODD)
        events = [json.loads(l) for l in
                  ct("export", "--format", "ndjson").stdout.splitlines()]
        d = os.path.realpath(proj) + "/d"
        unlink_b = [e for e in events if e["kind"] == "unlink"
                    and e.get("path") == d + "/b"]
        check(len(unlink_b) == 1, "one unlink of d/b recorded")
        seq = unlink_b[0]["seq"]

        # --- tree ---
        tree = json.loads(ct("tree", "--json").stdout)
        roots = tree["processes"]
        check(len(roots) == 1 and roots[0]["argv"][:2] == ["sh", "-c"],
              "tree: one root, sh -c")
        kids = {c["argv"][0]: c for c in roots[0]["children"]}
        for prog in ("mkdir", "cat", "cp", "rm", "chmod"):
            check(prog in kids, f"tree: {prog} is a child of sh")
        rm = kids.get("rm", {})
        check(rm.get("argv") == ["rm", "-rf", "d"], "tree: rm's argv")
        check(rm.get("counts", {}).get("unlink") == 2 and
              rm.get("counts", {}).get("rmdir") == 1,
              "tree: rm's counts (2 unlinks, 1 rmdir)")
        check(rm.get("exit_code") == 0 and rm.get("edge") in
              ("fork", "spawn", "child"), "tree: rm's exit and edge")
        text = ct("tree").stdout
        check("rm -rf d" in text and "unlink 2, rmdir 1" in text,
              "tree text: rm line with counts")
        check("\x01" not in text and "\\x01" in text,
              "tree text: control character escaped")
        check("exit 0" in text, "tree text: exit status")
        ev = ct("tree", "--events").stdout
        check(f"unlink {d}/b = 0" in ev, "tree --events: nested unlink")
        evj = json.loads(ct("tree", "--events", "--json").stdout)
        rmj = [c for c in evj["processes"][0]["children"]
               if c["argv"][0] == "rm"][0]
        check(any(e["kind"] == "unlink" and e["path"] == d + "/b"
                  for e in rmj["events"]), "tree --events --json: events")
        shallow = ct("tree", "--depth", "1").stdout
        check(not any(l.startswith("|-- ") or l.startswith("`-- ")
                      for l in shallow.splitlines()) and
              "more processes below" in shallow,
              "tree --depth 1 hides the children")
        ct("tree", "--depth", "x", code=2)

        # --- why ---
        why = ct("why", str(seq)).stdout
        lines = why.splitlines()
        i_sh = next((i for i, l in enumerate(lines) if "sh -c" in l), -1)
        i_rm = next((i for i, l in enumerate(lines)
                     if "-> " in l and " rm -rf d  (" in l), -1)
        i_ev = next((i for i, l in enumerate(lines)
                     if f"#{seq}" in l and "unlink" in l), -1)
        check(0 <= i_sh < i_rm < i_ev, "why: sh -> rm -> the unlink")
        check(f"the event's path {d}/b, created by" in why and
              "cp d/a d/b" in why, "why: d/b was created by cp")
        check(f"read {d}/a, created by" in why,
              "why: cp read d/a, created by sh (recursive)")
        wj = json.loads(ct("why", str(seq), "--json").stdout)
        check([c["argv"][0] for c in wj["chain"]] == ["sh", "rm"],
              "why --json: chain sh, rm")
        check(wj["event"]["seq"] == seq and wj["event"]["kind"] == "unlink",
              "why --json: the event")
        flow = wj["dataflow"]
        check(any(f["path"] == d + "/b" and f["writer"]["op"] == "created"
                  and f["writer"]["command"].startswith("cp ")
                  for f in flow), "why --json: writer of d/b is cp")
        check(any(f["path"] == d + "/a" and f.get("reader", {}).get("op") ==
                  "read" and f["depth"] == 1 for f in flow),
              "why --json: cp's input d/a at depth 1")
        r = ct("why", "999999", code=2)
        check(len(r.stderr.strip().splitlines()) == 1 and
              "no event #999999" in r.stderr, "why: unknown SEQ, one line")
        ct("why", code=2)
        ct("why", "abc", code=2)

        # --- graph ---
        g = ct("graph").stdout
        check("data flow (writer => reader)" in g, "graph: data-flow part")
        check(f"{d}/a (created, read)" in g, "graph: sh => cat via d/a")
        check(os.path.realpath(proj) + "/s.sh (created, executed)" in g,
              "graph: sh => s.sh executed")
        gj = json.loads(ct("graph", "--json").stdout)
        procs = {n["proc"]: n for n in gj["nodes"]}
        flows = [e for e in gj["edges"] if e["type"] == "dataflow"]
        lin = [e for e in gj["edges"] if e["type"] == "lineage"]
        check(len(lin) == len(procs) - 1, "graph --json: a tree of lineage")
        cp_in = [e for e in flows if procs[e["to"]]["argv"][0] == "cp"]
        check(len(cp_in) == 1 and cp_in[0]["paths"] == [d + "/a"] and
              procs[cp_in[0]["from"]]["argv"][0] == "sh",
              "graph --json: sh => cp via d/a")
        dot = ct("graph", "--dot").stdout
        check(dot.startswith("digraph") and dot.rstrip().endswith("}"),
              "graph --dot: a digraph")
        check('q\\"uo\\\\x01te' in dot, "graph --dot: label escaped")
        check("style=dashed" in dot, "graph --dot: data-flow edges")
        ct("graph", "--dot", "--json", code=2)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
