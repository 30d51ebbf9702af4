#!/usr/bin/env python3
"""The real Claude Code CLI under ctrace run (../shared/agent-fixture).

Runs plan-example.json (ls + cat, `rm -rf build`, a Write of notes.md, a
final text) once without and once with ctrace, and checks that
- the traced run exits 0 and leaves the plan's notes.md;
- the CLI's output, exit status and the files it leaves are the same;
- the `rm -rf build` is recorded: every file and folder under build/ with
  its absolute path, from an `rm` whose ancestry is claude -> bash -> rm.
Skips (77) when the fixture or the CLI is not available.

    agent_claude.py CTRACE
"""
import json
import os
import shutil
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
    os.makedirs(os.path.join(root, "build", "obj"))
    with open(os.path.join(root, "main.c"), "w") as f:
        f.write("int main(void) { return 0; }\n")
    for p in ("build/a.o", "build/b.o", "build/obj/c.o"):
        with open(os.path.join(root, p), "w") as f:
            f.write("obj\n")


def snapshot(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in files + dirs:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            out[rel] = open(p, "rb").read() if os.path.isfile(p) else None
    return out


def run_claude(plan, proj, home, env, wrapper):
    env = dict(env, CLAUDE_HOME_DIR=home)
    r = subprocess.run([os.path.join(FIXTURE, "run-claude.sh"), plan, proj] +
                       wrapper, env=env, capture_output=True, timeout=600)
    if r.returncode == 77:
        skip("the Claude Code CLI cannot be installed here")
    return r


def main():
    ctrace = os.path.abspath(sys.argv[1])
    if not os.path.isfile(os.path.join(FIXTURE, "run-claude.sh")):
        skip(f"no agent fixture at {FIXTURE} (CI has ../shared beside the "
             "repository)")
    plan = os.path.join(FIXTURE, "plan-example.json")
    with tempfile.TemporaryDirectory(prefix="ct-claude-") as tmp:
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
            r = run_claude(plan, proj, home, dict(env, HOME=home), wrapper)
            results.append((proj, r, snapshot(proj)))
        (bproj, bare, bfiles), (tproj, traced, tfiles) = results
        bad = []
        # Equal is not enough: both runs failing the same way proves
        # nothing.  The plan succeeds and its Write leaves notes.md.
        if traced.returncode != 0:
            bad.append(f"traced run exited {traced.returncode}, want 0")
        if not os.path.isfile(os.path.join(tproj, "notes.md")):
            bad.append("traced run left no notes.md (the plan's Write)")
        if bare.returncode != traced.returncode:
            bad.append(f"exit {bare.returncode} bare vs {traced.returncode} traced")
        if bare.stdout != traced.stdout:
            bad.append(f"stdout differs: {bare.stdout!r} vs {traced.stdout!r}")
        if bfiles != tfiles:
            bad.append(f"files differ: {sorted(bfiles)} vs {sorted(tfiles)}")

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

        want = {os.path.join(tproj, p): k for p, k in (
            ("build/a.o", "unlink"), ("build/b.o", "unlink"),
            ("build/obj/c.o", "unlink"), ("build/obj", "rmdir"),
            ("build", "rmdir"))}
        seen = {}
        for ev in doc["events"]:
            if ev.get("path") in want and ev["kind"] == want[ev["path"]] \
                    and ev.get("result") == 0:
                seen[ev["path"]] = chain(ev["proc"])
        for path, kind in sorted(want.items()):
            if path not in seen:
                bad.append(f"{kind} {path} not recorded")
                continue
            c = seen[path]
            ok = (len(c) >= 3 and c[-1] == "rm" and c[-2] == "bash" and
                  "claude" in c[:-2])
            if not ok:
                bad.append(f"{kind} {path}: lineage {c}, want claude -> "
                           "bash -> rm")
        if bad:
            print("FAIL real Claude Code CLI under ctrace run")
            for b in bad:
                print("  " + b)
            print("  traced stderr: " + traced.stderr.decode()[-3000:])
            return 1
        print(f"ok real Claude Code CLI: {len(doc['events'])} events, "
              f"{len(doc['processes'])} processes, rm -rf recorded with lineage "
              f"{seen[os.path.join(tproj, 'build')]}")
        return 0


if __name__ == "__main__":
    sys.exit(main())
