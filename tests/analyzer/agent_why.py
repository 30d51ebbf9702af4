#!/usr/bin/env python3
"""why and tree on the real Claude Code CLI (../shared/agent-fixture).

The CLI runs plan_delete.json under `ctrace run`: `ls -la`, `rm -rf build`,
`find logs -name '*.log' -delete`.  Checks (issue 6's done-when):
- `why` on an unlink of rm prints claude -> bash -c "... eval 'rm -rf
  build' ..." -> rm -> the unlink, in text and JSON;
- `why` on an unlink of the find -delete leads back through its bash to
  claude;
- `tree` shows the commands the CLI ran on its own (git, `ps aux | grep`)
  as their own branches below claude, not under a tool call's shell;
- the --json outputs parse.
Skips (77) when the fixture or the CLI is not available.

    agent_why.py CTRACE
"""
import json
import os
import subprocess
import sys
import tempfile

from checks import check, finish

SRC = os.environ.get("CT_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.environ.get("CT_AGENT_FIXTURE",
                         os.path.join(SRC, "..", "shared", "agent-fixture"))
PLAN = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                    "plan_delete.json")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def base(p):
    return os.path.basename(p) if p else ""


def main():
    ctrace = os.path.abspath(sys.argv[1])
    if not os.path.isfile(os.path.join(FIXTURE, "run-claude.sh")):
        skip(f"no agent fixture at {FIXTURE}")
    with tempfile.TemporaryDirectory() as tmp:
        proj = os.path.join(tmp, "p")
        home = os.path.join(tmp, "home")
        os.makedirs(os.path.join(proj, "build", "obj"))
        os.makedirs(os.path.join(proj, "logs"))
        os.makedirs(home)
        for p in ("main.c", "build/a.o", "build/b.o", "build/obj/c.o",
                  "logs/1.log", "logs/2.log"):
            with open(os.path.join(proj, p), "w") as f:
                f.write("x\n")
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, "store"),
                   CLAUDE_HOME_DIR=home, NO_COLOR="1")
        r = subprocess.run([os.path.join(FIXTURE, "run-claude.sh"), PLAN,
                            proj, ctrace, "run", "--"], env=env,
                           capture_output=True, timeout=600)
        if r.returncode == 77:
            skip("the Claude Code CLI cannot be installed here")
        check(r.returncode == 0, f"claude under ctrace run: exit "
              f"{r.returncode}: {r.stderr[-500:]!r}")
        check(not os.path.exists(os.path.join(proj, "build")) and
              not os.listdir(os.path.join(proj, "logs")),
              "the tool calls deleted build/ and logs/*.log")

        def ct(*args):
            r = subprocess.run([ctrace] + list(args), env=env,
                               capture_output=True, text=True,
                               errors="replace")
            check(r.returncode == 0, f"ctrace {' '.join(args)}: exit "
                  f"{r.returncode} ({r.stderr.strip()})")
            return r.stdout

        events = [json.loads(l) for l in
                  ct("export", "--format", "ndjson").splitlines()]
        rp = os.path.realpath(proj)

        def unlink_of(path):
            s = [e["seq"] for e in events if e["kind"] == "unlink"
                 and e.get("path") == path]
            check(len(s) == 1, f"one unlink of {path}")
            return s[0] if s else 0

        # why on rm's unlink: claude -> bash -c "... eval 'rm -rf' ..." -> rm
        seq = unlink_of(rp + "/build/a.o")
        w = json.loads(ct("why", str(seq), "--json"))
        chain = w["chain"]
        names = [base(c.get("argv", [""])[0]) for c in chain]
        check(names == ["claude", "bash", "rm"],
              f"why chain is claude, bash, rm (got {names})")
        if len(chain) == 3:
            cmd = " ".join(chain[1]["argv"])
            check(chain[1]["argv"][1:2] == ["-c"] and "eval" in cmd and
                  "rm -rf build" in cmd,
                  "the bash step is bash -c \"... eval 'rm -rf build' ...\"")
            check(chain[2]["argv"] == ["rm", "-rf", "build"],
                  "the rm step's argv")
        check(w["event"]["kind"] == "unlink" and
              w["event"]["path"] == rp + "/build/a.o", "why: the event")
        text = ct("why", str(seq))
        lines = text.splitlines()
        order = [next((i for i, l in enumerate(lines) if pat(l)), -1)
                 for pat in (lambda l: "claude -p" in l,
                             lambda l: "-> " in l and "/bin/bash -c" in l
                             and "eval" in l and "rm -rf build" in l,
                             lambda l: "-> " in l and " rm -rf build  (" in l,
                             lambda l: f"#{seq}" in l and "unlink " +
                             rp + "/build/a.o" in l)]
        check(-1 not in order and order == sorted(order),
              f"why text: claude -> bash -> rm -> unlink ({order})\n{text}")

        # why on find -delete's unlink: claude -> bash -> find (bfs)
        seq = unlink_of(rp + "/logs/1.log")
        w = json.loads(ct("why", str(seq), "--json"))
        names = [base(c.get("argv", [""])[0]) for c in w["chain"]]
        check(len(names) >= 3 and names[0] == "claude" and
              names[1] == "bash" and names[-1] in ("find", "bfs"),
              f"find -delete chain: claude, bash, find ({names})")

        # tree: the CLI's own commands are branches below claude
        tree = json.loads(ct("tree", "--json"))
        roots = tree["processes"]
        check(len(roots) == 1 and base(roots[0]["argv"][0]) == "claude",
              "tree: claude is the root")
        top = roots[0]["children"] if roots else []

        def argv_of(n):
            return " ".join(n.get("argv", []))
        gits = [n for n in top if base(n.get("argv", [""])[0]) == "git"]
        check(gits, "tree: a git command is a child of claude")
        ps = [n for n in top if "ps aux | grep" in argv_of(n)]
        check(len(ps) == 1, "tree: `ps aux | grep` is a child of claude")
        if ps:
            kids = [base(c["argv"][0]) for c in ps[0]["children"]]
            check("ps" in kids and "grep" in kids,
                  f"tree: ps and grep below it ({kids})")
        tools = [n for n in top if "eval" in argv_of(n)]
        check(len(tools) == 3, f"tree: three tool calls ({len(tools)})")
        for n in tools:
            check(not any("ps aux" in argv_of(c) or
                          base(c.get("argv", [""])[0]) == "git"
                          for c in n["children"]),
                  "tree: the CLI's own commands are not under a tool call")
        text = ct("tree")
        check("git " in text and "ps aux | grep" in text and
              "rm -rf build" in text, "tree text shows git, ps, rm")
        json.loads(ct("graph", "--json"))
        check(ct("graph", "--dot").startswith("digraph"), "graph --dot")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
