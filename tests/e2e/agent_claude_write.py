#!/usr/bin/env python3
"""The real Claude Code CLI's own raw syscalls under ctrace run (issue 4).

Claude Code is a Bun binary: its Write tool and its writes of its config
and session files are raw syscalls, which only Syscall User Dispatch sees.
Runs a plan with a Write tool call once bare and RUNS times under
`ctrace run`, the last traced run itself under `strace -f` as the oracle,
and checks that
- output, exit status and the project's files are identical to the bare
  run's, every time;
- the Write's creation of `notes.md.tmp.<pid>.<hex>` and its rename onto
  `notes.md` are recorded;
- every file the CLI tree created, truncated or renamed under its HOME or
  the project (per strace) is recorded by ctrace with the same kind and
  path, and the CLI's process ran with raw-syscall capture on.
Skips (77) without the fixture or the CLI.

    agent_claude_write.py CTRACE
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("CT_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.environ.get("CT_AGENT_FIXTURE",
                         os.path.join(SRC, "..", "shared", "agent-fixture"))
RUNS = int(os.environ.get("CT_CLAUDE_RUNS", "3"))
PLAN = [
    {"bash": "echo start && ls"},
    {"write": "{root}/notes.md", "content": "written by the Write tool\n"},
    {"bash": "cat notes.md"},
    {"text": "All done."},
]
WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def snapshot(root):
    out = {}
    for d, dirs, files in os.walk(root):
        for name in files + dirs:
            p = os.path.join(d, name)
            out[os.path.relpath(p, root)] = \
                open(p, "rb").read() if os.path.isfile(p) else None
    return out


def run(plan, proj, home, env, wrapper):
    env = dict(env, HOME=home, CLAUDE_HOME_DIR=home)
    r = subprocess.run([os.path.join(FIXTURE, "run-claude.sh"), plan, proj] +
                       wrapper, env=env, capture_output=True, timeout=600)
    if r.returncode == 77:
        skip("the Claude Code CLI cannot be installed here")
    return r


def strace_writes(log, roots):
    """(kind, path) of successful creating/truncating opens and renames
    under roots, from `strace -f -y` output."""
    want = set()
    op = re.compile(r'^\d+\s+(?:<\.\.\. )?(openat|open|creat|rename|renameat2?)'
                    r'\((.*)\)\s+= (\d+)')
    for line in open(log, errors="replace"):
        m = op.match(line)
        if not m:
            continue
        call, args = m.group(1), m.group(2)
        strs = re.findall(r'"((?:[^"\\]|\\.)*)"', args)
        if call in ("openat", "open", "creat"):
            if call != "creat" and not any(f in args for f in WRITE_FLAGS):
                continue
            if strs and strs[0].startswith(roots):
                want.add(("open", strs[0]))
        elif len(strs) >= 2 and strs[1].startswith(roots):
            want.add(("rename", strs[1]))
    return want


def main():
    ctrace = os.path.abspath(sys.argv[1])
    if not os.path.isfile(os.path.join(FIXTURE, "run-claude.sh")):
        skip(f"no agent fixture at {FIXTURE} (CI has ../shared beside the "
             "repository)")
    strace = shutil.which("strace")
    bad = []
    with tempfile.TemporaryDirectory(prefix="ct-claude-w-") as tmp:
        tmp = os.path.realpath(tmp)
        plan = os.path.join(tmp, "plan.json")
        with open(plan, "w") as f:
            json.dump(PLAN, f)
        runs = [("bare", [])] + [
            (f"traced{i}", [ctrace, "run", "--quiet", "--"])
            for i in range(RUNS)]
        if strace:
            runs[-1] = (runs[-1][0], [strace, "-f", "-qq", "-y", "-s", "4096",
                                      "-o", os.path.join(tmp, "strace.log"),
                                      "-e", "trace=open,openat,creat,rename,"
                                      "renameat,renameat2"] + runs[-1][1])
        results = {}
        for label, wrapper in runs:
            proj = os.path.join(tmp, label, "proj")
            home = os.path.join(tmp, label, "home")
            os.makedirs(proj)
            os.makedirs(home)
            with open(os.path.join(proj, "main.c"), "w") as f:
                f.write("int main(void) { return 0; }\n")
            env = dict(os.environ,
                       CTRACE_HOME=os.path.join(tmp, label, "store"))
            r = run(plan, proj, home, env, wrapper)
            results[label] = (proj, home, env, r, snapshot(proj))

        _, _, _, bare, bfiles = results["bare"]
        if bare.returncode != 0 or b"All done." not in bare.stdout:
            bad.append(f"bare run failed: exit {bare.returncode} "
                       f"{bare.stdout!r} {bare.stderr[-2000:]!r}")
        nwrite = nhome = 0
        sources = {}
        for label, _ in runs[1:]:
            proj, home, env, r, files = results[label]
            if r.returncode != bare.returncode:
                bad.append(f"{label}: exit {r.returncode}, bare "
                           f"{bare.returncode}")
            if r.stdout != bare.stdout:
                bad.append(f"{label}: stdout {r.stdout!r}, bare "
                           f"{bare.stdout!r}")
            if files != bfiles:
                bad.append(f"{label}: project files differ: "
                           f"{sorted(files)} vs {sorted(bfiles)}")
            doc = json.loads(subprocess.run(
                [ctrace, "export", "--format", "json"], env=env,
                capture_output=True, check=True).stdout)
            procs = {p["proc"]: p for p in doc["processes"]}
            evs = doc["events"]
            target = os.path.join(proj, "notes.md")
            tmpre = re.compile(re.escape(target) + r"\.tmp\.\d+\.[0-9a-f]+$")
            created = [e for e in evs if e["kind"] == "open" and
                       tmpre.match(e.get("path", "")) and
                       "O_CREAT" in e.get("flags", "") and
                       e.get("result", -1) >= 0]
            renamed = [e for e in evs if e["kind"] == "rename" and
                       tmpre.match(e.get("path", "")) and
                       e.get("path2") == target and e.get("result") == 0]
            if not created:
                bad.append(f"{label}: the Write's temporary file "
                           f"{target}.tmp.* was not recorded created")
            if not renamed:
                bad.append(f"{label}: the Write's rename onto {target} was "
                           "not recorded")
            nwrite += len(created) + len(renamed)
            for e in created + renamed:
                sources[e.get("source")] = sources.get(e.get("source"), 0) + 1
            mine = [e for e in evs if e["kind"] in ("open", "rename") and
                    (e.get("path", "") + e.get("path2", "")).find(home) >= 0
                    and (e["kind"] == "rename" or
                         any(f in e.get("flags", "") for f in WRITE_FLAGS))]
            nhome += len(mine)
            if not mine:
                bad.append(f"{label}: no write of the CLI under {home} "
                           "recorded")
            claude = [p for p in procs.values() if p.get("argv") and
                      os.path.basename(p["argv"][0]) == "claude"]
            if not claude:
                bad.append(f"{label}: no claude process recorded")
            show = subprocess.run([ctrace, "show", "--all"], env=env,
                                  capture_output=True, text=True).stdout
            for p in claude:
                if not re.search(rf"^\s+{re.escape(p['proc'])}\s+raw\+libc",
                                 show, re.M):
                    bad.append(f"{label}: ctrace show does not list "
                               f"{p['proc']} (claude) with raw capture on")
            if strace and label == runs[-1][0]:
                want = strace_writes(os.path.join(tmp, "strace.log"),
                                     (home, proj))
                have = set()
                for e in evs:
                    if e["kind"] == "open" and e.get("result", -1) >= 0:
                        have.add(("open", e.get("path")))
                    elif e["kind"] == "rename" and e.get("result") == 0:
                        have.add(("rename", e.get("path2")))
                missing = sorted(want - have)
                if missing:
                    bad.append(f"{label}: strace saw {len(want)} writes "
                               f"under HOME/project, ctrace misses "
                               f"{len(missing)}: {missing[:10]}")
                elif not want:
                    bad.append("strace saw no writes: the oracle is broken")
                else:
                    print(f"  strace oracle: all {len(want)} creating opens "
                          "and renames under HOME/project recorded")
        if bad:
            print("FAIL real Claude Code CLI, Write tool, raw syscalls")
            for b in bad:
                print("  " + b)
            return 1
        print(f"ok real Claude Code CLI x{RUNS}: Write tmp+rename recorded "
              f"({nwrite} events, sources {sources}), {nhome} CLI writes "
              "under HOME recorded, output and files identical")
        return 0


if __name__ == "__main__":
    sys.exit(main())
