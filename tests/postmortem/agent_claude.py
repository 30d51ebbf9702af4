#!/usr/bin/env python3
"""postmortem of the real Claude Code CLI (../shared/agent-fixture).

Runs claude-plan.json under `ctrace run`: one tool call deletes a folder
with `rm -rf build`, one deletes files with `find gen -name '*.tmp'
-delete` (Claude Code runs its bundled bfs for find).  Checks that
postmortem lists every deleted path, each under its tool call's command
(the eval'd text of the Bash tool's `bash -c`), with the claude process at
the root of the chain, in --json and in the text view.
Skips (77) when the fixture or the CLI is not available.

    agent_claude.py CTRACE
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CT_SRC", os.path.join(HERE, "..", ".."))
FIXTURE = os.environ.get("CT_AGENT_FIXTURE",
                         os.path.join(SRC, "..", "shared", "agent-fixture"))
RM_CMD = "rm -rf build && echo cleaned"
FIND_CMD = "find gen -name '*.tmp' -delete && echo pruned"


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def main():
    ctrace = os.path.abspath(sys.argv[1])
    if not os.path.isfile(os.path.join(FIXTURE, "run-claude.sh")):
        skip(f"no agent fixture at {FIXTURE} (CI has ../shared beside the "
             "repository)")
    bad = []
    with tempfile.TemporaryDirectory(prefix="ct-pm-claude-") as tmp:
        tmp = os.path.realpath(tmp)
        proj, home = os.path.join(tmp, "proj"), os.path.join(tmp, "home")
        for d in ("build/obj", "gen/sub"):
            os.makedirs(os.path.join(proj, d))
        os.makedirs(home)
        for f in ("main.c", "build/a.o", "build/b.o", "build/obj/c.o",
                  "gen/x.tmp", "gen/sub/y.tmp", "gen/keep.c"):
            with open(os.path.join(proj, f), "w") as fh:
                fh.write("x\n")
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, "store"),
                   HOME=home, CLAUDE_HOME_DIR=home, NO_COLOR="1")
        r = subprocess.run([os.path.join(FIXTURE, "run-claude.sh"),
                            os.path.join(HERE, "claude-plan.json"), proj,
                            ctrace, "run", "--quiet", "--"],
                           env=env, capture_output=True, timeout=600)
        if r.returncode == 77:
            skip("the Claude Code CLI cannot be installed here")
        if r.returncode != 0:
            sys.exit(f"FAIL claude exited {r.returncode}: "
                     f"{r.stderr.decode(errors='replace')[-2000:]}")
        if os.path.exists(os.path.join(proj, "build")) or \
                os.path.exists(os.path.join(proj, "gen/x.tmp")):
            sys.exit("FAIL the plan's tool calls did not run")

        out = subprocess.run([ctrace, "postmortem", "--json"], env=env,
                             capture_output=True, check=True).stdout
        doc = json.loads(out)
        want = {
            RM_CMD: {os.path.join(proj, p): k for p, k in (
                ("build/a.o", "unlink"), ("build/b.o", "unlink"),
                ("build/obj/c.o", "unlink"), ("build/obj", "rmdir"),
                ("build", "rmdir"))},
            FIND_CMD: {os.path.join(proj, p): "unlink"
                       for p in ("gen/x.tmp", "gen/sub/y.tmp")},
        }
        for cmd, paths in want.items():
            gs = [g for g in doc["groups"] if g.get("command") == cmd]
            if len(gs) != 1:
                bad.append(f"{len(gs)} groups for {cmd!r}; commands: "
                           f"{[g.get('command') for g in doc['groups']]}")
                continue
            g = gs[0]
            got = {x["path"]: list(x["kinds"]) for x in g["paths"]}
            if got != {p: [k] for p, k in paths.items()}:
                bad.append(f"{cmd!r}: paths {got}")
            root = g["chain"][0]
            if root["name"] != "claude" or g.get("agent") != root["proc"]:
                bad.append(f"{cmd!r}: chain root {root}, agent "
                           f"{g.get('agent')}")
            last = g["chain"][-1]
            if last["name"] != "bash" or len(g["chain"]) != 2:
                bad.append(f"{cmd!r}: chain {[s['name'] for s in g['chain']]}"
                           ", want claude -> bash")
            if not any(x in g["shell_argv"][-1] for x in ("eval '",)):
                bad.append(f"{cmd!r}: shell argv {g['shell_argv']}")
        # No project path is blamed on another command.
        for g in doc["groups"]:
            if g.get("command") in want:
                continue
            for x in g["paths"]:
                if x["path"].startswith(proj + "/build") or \
                        x["path"].startswith(proj + "/gen"):
                    bad.append(f"{x['path']} under {g.get('command')}")
        find_g = [g for g in doc["groups"] if g.get("command") == FIND_CMD]
        if find_g and not any(b["name"] in ("bfs", "find")
                              for b in find_g[0]["by"]):
            bad.append(f"find group done by {find_g[0]['by']}")

        text = subprocess.run([ctrace, "postmortem"], env=env,
                              capture_output=True, check=True).stdout.decode()
        for line in ("claude -> bash -c 'rm -rf build && echo cleaned'",
                     "claude -> bash -c 'find gen -name '\\''*.tmp'\\'' "
                     "-delete && echo pruned'"):
            if line not in text:
                bad.append(f"text lacks {line!r}")
        for paths in want.values():
            for p in paths:
                if f"    {p}  " not in text:
                    bad.append(f"text lacks {p}")
        st = json.loads(subprocess.run([ctrace, "stats", "--json"], env=env,
                                       capture_output=True,
                                       check=True).stdout)
        if st["kinds"]["unlink"]["events"] < 4 or \
                st["kinds"]["rmdir"]["events"] < 2 or \
                not any(e["exe"].endswith("/claude")
                        for e in st["executables"]):
            bad.append(f"stats: {st['kinds']} {st['executables']}")
        if bad:
            print("FAIL postmortem of the real Claude Code CLI")
            for b in bad:
                print("  " + b)
            print(text)
            return 1
        print("ok postmortem of the real Claude Code CLI:\n" + text)
        return 0


if __name__ == "__main__":
    sys.exit(main())
