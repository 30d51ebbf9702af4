#!/usr/bin/env python3
"""The real Codex CLI (a static musl binary) under ctrace run, covered by
the seccomp supervisor (docs/static.md), through ../shared/agent-fixture.

Runs plan-codex-example.json (`mkdir -p out && echo hi > out/a.txt && ls`,
`find tmp -delete; echo cleaned`, a final text) once without and once with
ctrace, and checks that
- the CLI's stdout, exit status and the files it leaves are the same;
- Codex itself is recorded from the inside (start with source seccomp);
- its bash tool calls are recorded once each, with the lineage
  codex -> bash -> (mkdir | find): the mkdir, the redirect's open, every
  deletion under tmp/.
Skips (77) when the fixture or the CLI is not available.

    agent_codex.py CTRACE
"""
import json
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("CT_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.environ.get("CT_AGENT_FIXTURE",
                         os.path.join(SRC, "..", "shared", "agent-fixture"))


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def make_project(root):
    os.makedirs(os.path.join(root, "tmp", "sub"))
    for p in ("tmp/x", "tmp/y", "tmp/sub/z"):
        with open(os.path.join(root, p), "w") as f:
            f.write("scratch\n")


def snapshot(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in files + dirs:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            out[rel] = open(p, "rb").read() if os.path.isfile(p) else None
    return out


def main():
    ctrace = os.path.abspath(sys.argv[1])
    if not os.path.isfile(os.path.join(FIXTURE, "run-codex.sh")):
        skip(f"no agent fixture at {FIXTURE} (CI has ../shared beside the "
             "repository)")
    plan = os.path.join(FIXTURE, "plan-codex-example.json")
    with tempfile.TemporaryDirectory(prefix="ct-codex-") as tmp:
        tmp = os.path.realpath(tmp)
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, "store"))
        results = []
        for label, wrapper in (("bare", []),
                               ("traced", [ctrace, "run", "--quiet", "--"])):
            proj = os.path.join(tmp, label, "proj")
            home = os.path.join(tmp, label, "home")
            os.makedirs(proj)
            os.makedirs(home)
            make_project(proj)
            r = subprocess.run([os.path.join(FIXTURE, "run-codex.sh"), plan,
                                proj] + wrapper,
                               env=dict(env, HOME=home, CODEX_HOME_DIR=home),
                               capture_output=True, timeout=600)
            if r.returncode == 77:
                skip("the Codex CLI cannot be installed here")
            results.append((proj, r, snapshot(proj)))
        (bproj, bare, bfiles), (tproj, traced, tfiles) = results
        bad = []
        if bare.returncode != traced.returncode:
            bad.append(f"exit {bare.returncode} bare vs {traced.returncode} "
                       "traced")
        if bare.stdout != traced.stdout:
            bad.append(f"stdout differs: {bare.stdout!r} vs {traced.stdout!r}")
        if bfiles != tfiles:
            bad.append(f"files differ: {sorted(bfiles)} vs {sorted(tfiles)}")
        if "tmp" in tfiles or "out/a.txt" not in tfiles:
            bad.append(f"the plan did not run: {sorted(tfiles)}")

        out = subprocess.run([ctrace, "export", "--format", "json"], env=env,
                             capture_output=True, check=True).stdout
        doc = json.loads(out)
        procs = {p["proc"]: p for p in doc["processes"]}

        def chain(proc):
            names = []
            p = procs.get(proc)
            while p:
                argv = p.get("argv") or ["?"]
                names.append(os.path.basename(argv[0]))
                p = procs.get(p.get("parent"))
            return names[::-1]

        # a process's images (bash -lc 'A && B' execs B in place)
        images = {}
        for e in doc["events"]:
            if e["kind"] == "start" and e.get("argv"):
                images.setdefault(e["proc"], set()).add(
                    os.path.basename(e["argv"][0]))

        def lineage(proc):
            out = []
            p = procs.get(proc)
            while p:
                out.append(images.get(p["proc"], set()) |
                           {os.path.basename((p.get("argv") or ["?"])[0])})
                p = procs.get(p.get("parent"))
            return out[::-1]

        starts = [e for e in doc["events"] if e["kind"] == "start" and
                  e.get("source") == "seccomp" and
                  chain(e["proc"])[-1:] == ["codex"]]
        if not starts:
            bad.append("no start of codex recorded by the supervisor")
        p = lambda rel: os.path.join(tproj, rel)
        want = [("mkdir", p("out"), "mkdir"), ("open", p("out/a.txt"), "bash"),
                ("unlink", p("tmp/x"), "find"), ("unlink", p("tmp/y"), "find"),
                ("unlink", p("tmp/sub/z"), "find"),
                ("rmdir", p("tmp/sub"), "find"), ("rmdir", p("tmp"), "find")]
        for kind, path, who in want:
            evs = [e for e in doc["events"] if e["kind"] == kind and
                   e.get("path") == path and e.get("result", 0) >= 0]
            if len(evs) != 1:
                bad.append(f"{kind} {path}: recorded {len(evs)} times, "
                           "want once")
                continue
            c = lineage(evs[0]["proc"])
            if (who not in c[-1] or not any("bash" in i for i in c[-2:]) or
                    not any("codex" in i for i in c[:-1])):
                bad.append(f"{kind} {path}: lineage {c}, want codex -> "
                           f"bash -> {who}")
        gaps = [e for e in doc["events"] if e["kind"] == "gap"]
        if gaps:
            bad.append(f"gaps: {[e.get('reason') for e in gaps]}")
        if bad:
            print("FAIL real Codex CLI under ctrace run")
            for b in bad:
                print("  " + b)
            print("  traced stderr: " + traced.stderr.decode()[-3000:])
            return 1
        print(f"ok real Codex CLI: {len(doc['events'])} events, "
              f"{len(doc['processes'])} processes, tool calls recorded with "
              f"lineage {chain(starts[0]['proc'])} -> bash")
        return 0


if __name__ == "__main__":
    sys.exit(main())
