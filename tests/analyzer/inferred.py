#!/usr/bin/env python3
"""A process the session did not start gets an inferred parent, marked as
inferred in every view and export (tests/analyzer).

While `ctrace run -- sh -c '...; sleep 3'` runs, a shell is started from
outside the traced tree with the traced process's CTRACE_* and LD_PRELOAD
(copied from /proc/PID/environ): it reports into the same session, but its
ppid names no process of the session.  The collector must hang it below
the newest process running when it began (not make it a second root), and
tree, graph, why, postmortem, export and their --json must say "inferred",
in words, not only in colour.  Its own children keep their real parent.

    inferred.py CTRACE
"""
import json
import os
import subprocess
import sys
import tempfile
import time

from checks import check, ctrace_env, ctrace_runner, finish



def main():
    ctrace = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        tmp = os.path.realpath(tmp)
        env = ctrace_env(os.path.join(tmp, "store"), tmp)

        ct = ctrace_runner(ctrace, env, tmp)

        run = subprocess.Popen(
            [ctrace, "run", "--quiet", "--", "sh", "-c",
             "echo $$ > pidf; sleep 3; echo done"],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL)
        pidf = os.path.join(tmp, "pidf")
        for _ in range(200):
            if os.path.exists(pidf) and open(pidf).read().strip():
                break
            time.sleep(0.02)
        time.sleep(0.3)  # the shell has started its sleep
        pid = int(open(pidf).read())
        with open(f"/proc/{pid}/environ", "rb") as f:
            traced = [kv.decode() for kv in f.read().split(b"\0") if kv]
        outside = dict(os.environ)
        for kv in traced:
            k, _, v = kv.partition("=")
            if k.startswith("CTRACE_") or k == "LD_PRELOAD":
                outside[k] = v
        check("CTRACE_SESSION" in outside, "traced environ has the session")
        subprocess.run(["sh", "-c", "touch x; rm x"], env=outside, cwd=tmp,
                       check=True)
        check(run.wait(timeout=60) == 0, "ctrace run exits 0")

        x = tmp + "/x"
        doc = json.loads(ct("export", "--format", "json").stdout)
        procs = {p["proc"]: p for p in doc["processes"]}
        out = [p for p in doc["processes"]
               if p.get("argv") == ["sh", "-c", "touch x; rm x"]]
        check(len(out) == 1, "export: the outside shell is recorded")
        if not out:
            return 1
        o = out[0]
        oid = o["proc"]
        check(o.get("parent") in procs and o.get("parent_inferred") is True,
              "export: outside shell has an inferred parent")
        check(procs.get(o.get("parent"), {}).get("argv", [""])[0] in
              ("sh", "sleep"), "export: inferred parent is the traced sh "
              "or its sleep")
        roots = [p for p in doc["processes"] if "parent" not in p]
        check(len(roots) == 1, f"export: one root, not {len(roots)}")
        kids = [p for p in doc["processes"] if p.get("parent") == oid]
        check(sorted(p["argv"][0] for p in kids) == ["rm", "touch"] and
              not any(p.get("parent_inferred") for p in kids),
              "export: touch and rm are real children of the outside sh")
        check(sum(1 for p in doc["processes"] if p.get("parent_inferred"))
              == 1, "export: only the outside shell is inferred")
        unlink = [e for e in doc["events"]
                  if e["kind"] == "unlink" and e.get("path") == x]
        check(len(unlink) == 1, "export: the outside rm's unlink")
        seq = unlink[0]["seq"] if unlink else 0

        # --- tree ---
        tree = json.loads(ct("tree", "--json").stdout)
        check(len(tree["processes"]) == 1, "tree --json: one root")

        def find(nodes):
            for n in nodes:
                if n["proc"] == oid:
                    return n
                r = find(n.get("children", []))
                if r:
                    return r
            return None
        node = find(tree["processes"]) or {}
        check(node.get("edge") == "inferred" and
              node.get("parent_inferred") is True and node.get("depth", 0)
              >= 1, "tree --json: edge inferred, parent_inferred, below")
        text = ct("tree").stdout
        line = [l for l in text.splitlines() if oid in l]
        check(len(line) == 1 and "(parent inferred)" in line[0] and
              ("|-- " in line[0] or "`-- " in line[0]),
              "tree: the outside shell hangs below, '(parent inferred)'")
        check(text.count("(parent inferred)") == 1,
              "tree: only one line says parent inferred")

        # --- graph ---
        g = ct("graph").stdout
        lin = [l for l in g.splitlines() if f"-> {oid}  " in l]
        check(len(lin) == 1 and lin[0].rstrip().endswith("inferred"),
              "graph: lineage edge into the outside shell says inferred")
        gj = json.loads(ct("graph", "--json").stdout)
        e = [e for e in gj["edges"]
             if e["type"] == "lineage" and e["to"] == oid]
        check(len(e) == 1 and e[0]["inferred"] is True and
              e[0]["kind"] == "inferred", "graph --json: inferred edge")
        n = [n for n in gj["nodes"] if n["proc"] == oid]
        check(n and n[0].get("parent_inferred") is True,
              "graph --json: node parent_inferred")
        dot = ct("graph", "--dot").stdout
        check("style=dotted" in dot, "graph --dot: inferred edge dotted")

        # --- why ---
        why = ct("why", str(seq)).stdout
        wl = [l for l in why.splitlines() if oid in l]
        check(len(wl) == 1 and "parent inferred" in wl[0],
              "why: the outside shell's step says parent inferred")
        wj = json.loads(ct("why", str(seq), "--json").stdout)
        st = [s for s in wj["chain"] if s["proc"] == oid]
        check(st and st[0].get("parent_inferred") is True and
              st[0].get("edge") == "inferred", "why --json: inferred step")
        check(wj["chain"][-1]["argv"][0] == "rm", "why --json: ends in rm")

        # --- postmortem ---
        pm = ct("postmortem").stdout
        cl = [l for l in pm.splitlines() if l.endswith("rm x  [" +
                                                        unlink[0]["proc"]
                                                        + "]")] \
            if unlink else []
        check(len(cl) == 1 and "-(inferred)-> sh -> rm x" in cl[0],
              f"postmortem: chain says -(inferred)-> ({cl})")
        pj = json.loads(ct("postmortem", "--json").stdout)
        grp = [gr for gr in pj["groups"]
               if any(p["path"] == x for p in gr["paths"])]
        check(len(grp) == 1 and any(
            s["proc"] == oid and s.get("parent_inferred") is True
            for s in grp[0]["chain"]), "postmortem --json: inferred step")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
