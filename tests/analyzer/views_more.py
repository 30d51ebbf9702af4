#!/usr/bin/env python3
"""More of the analyzer's behaviours, each asserted on content
(tests/analyzer):

  reuse     a pid that comes back (unshare -pf, ns_last_pid) is a second
            process instance, never merged with the first;
  terminal  colour only on a TTY and not with NO_COLOR; the pager only on
            a TTY, not for --json, not when PAGER is empty;
  rename    `echo a > f; mv f g; cat g`: rename is a data-flow edge, and
            why follows it back through mv to the shell that wrote f;
  why       each step of the chain names its edge kind and start time, in
            text and in JSON;
  orphan    a double-forked background process, kept by ctrace run as a
            subreaper, is recorded with its real lineage.

    views_more.py CTRACE
"""
import json
import os
import pty
import re
import select
import subprocess
import sys
import tempfile

from checks import check, ctrace_env, ctrace_runner, finish

skipped = []


class Ctx:
    def __init__(self, ctrace, tmp, name):
        self.ctrace = ctrace
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir)
        self.env = ctrace_env(os.path.join(self.dir, ".st"), self.dir)
        self.ct = ctrace_runner(ctrace, self.env, self.dir)

    def export(self):
        return json.loads(self.ct("export", "--format", "json").stdout)


def test_reuse(c):
    script = ("touch f1 & p=$!; wait $p\n"
              "echo $((p - 1)) > /proc/sys/kernel/ns_last_pid\n"
              "touch f2 & q=$!; wait $q\n"
              "echo \"$p $q\" > pids\n")
    probe = subprocess.run(["unshare", "-pf", "--mount-proc", "sh", "-c",
                            script], cwd=c.dir, capture_output=True)
    pids = open(os.path.join(c.dir, "pids")).read().split() \
        if os.path.exists(os.path.join(c.dir, "pids")) else []
    if probe.returncode != 0 or len(pids) != 2 or pids[0] != pids[1]:
        skipped.append("reuse: unshare -pf with ns_last_pid not permitted "
                       f"here ({probe.stderr.decode().strip()[:200]})")
        return
    c.ct("run", "--quiet", "--", "unshare", "-pf", "--mount-proc", "sh",
         "-c", script)
    doc = c.export()
    p, q = (int(x) for x in open(os.path.join(c.dir, "pids")).read().split())
    check(p == q, "reuse: the second touch got the first one's pid")
    touches = [x for x in doc["processes"]
               if (x.get("argv") or [""])[0] == "touch"]
    check(len(touches) == 2, f"reuse: two touch instances ({len(touches)})")
    if len(touches) != 2:
        return
    a, b = touches
    check(a["pid"] == b["pid"] == p and a["proc"] != b["proc"],
          "reuse: same pid, distinct instances")
    check(a["argv"] == ["touch", "f1"] and b["argv"] == ["touch", "f2"],
          "reuse: each instance keeps its own argv")
    check(a.get("parent") == b.get("parent") and
          a.get("end", 0) <= b["start"],
          "reuse: same parent, the first ended before the second began")
    d = os.path.realpath(c.dir)
    opened = {}
    for e in doc["events"]:
        if e["kind"] == "open" and e.get("path", "").startswith(d + "/f"):
            opened.setdefault(e["proc"], []).append(e["path"])
    check(opened.get(a["proc"]) == [d + "/f1"] and
          opened.get(b["proc"]) == [d + "/f2"],
          f"reuse: each instance has its own events ({opened})")
    tree = c.ct("tree").stdout
    check(f"{p}.1 touch f1" in tree and f"{p}.2 touch f2" in tree,
          "reuse: tree shows PID.1 and PID.2")


def run_pty(c, args, env):
    """Run ctrace ARGS with stdout on a pseudo-terminal: its output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([c.ctrace] + args, env=env, cwd=c.dir,
                            stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.PIPE)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 30)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    check(proc.wait(timeout=30) == 0, f"pty: ctrace {' '.join(args)} exits 0")
    return out.decode("utf-8", "replace")


def test_terminal(c):
    c.ct("run", "--quiet", "--", "sh", "-c", "echo x > f; rm f")
    marker = os.path.join(c.dir, "paged")
    pager = os.path.join(c.dir, "pager.sh")
    with open(pager, "w") as f:
        f.write(f"#!/bin/sh\necho used >> {marker}\necho '<<pager>>'\n"
                "exec cat\n")
    os.chmod(pager, 0o755)

    def env(**kw):
        e = dict(c.env, TERM="xterm", PAGER=pager)
        e.pop("NO_COLOR", None)
        for k, v in kw.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e

    def paged():
        n = len(open(marker).readlines()) if os.path.exists(marker) else 0
        if os.path.exists(marker):
            os.unlink(marker)
        return n

    esc = "\x1b["
    out = run_pty(c, ["tree"], env())
    check(esc in out and "rm f" in out, "tty: tree is coloured")
    check(paged() == 1 and "<<pager>>" in out, "tty: tree goes through PAGER")
    out = run_pty(c, ["tree"], env(NO_COLOR="1"))
    check(esc not in out and "rm f" in out, "tty + NO_COLOR: no colour")
    check(paged() == 1, "tty + NO_COLOR: still paged")
    out = run_pty(c, ["tree", "--json"], env())
    check(esc not in out and paged() == 0 and "<<pager>>" not in out,
          "tty + --json: no colour, no pager")
    check(json.loads(out)["processes"][0]["argv"][0] == "sh",
          "tty + --json: plain JSON")
    out = run_pty(c, ["tree"], env(PAGER=""))
    check(paged() == 0 and "<<pager>>" not in out and "rm f" in out,
          "tty + empty PAGER: no pager, output written")
    out = run_pty(c, ["postmortem"], env(CTRACE_PAGER=""))
    check(paged() == 0 and "rm f" in out,
          "tty + empty CTRACE_PAGER: no pager")
    # Not a terminal: neither colour nor pager, whatever the environment.
    r = c.ct("tree", env=env())
    check(esc not in r.stdout and paged() == 0 and "rm f" in r.stdout,
          "pipe: no colour, no pager")


def test_rename(c):
    c.ct("run", "--quiet", "--", "sh", "-c",
         "echo a > f; mv f g; cat g > /dev/null")
    d = os.path.realpath(c.dir)
    doc = c.export()
    rd = [e for e in doc["events"] if e["kind"] == "open" and
          e.get("path") == d + "/g"]
    check(len(rd) == 1, "rename: cat's read of g recorded")
    if not rd:
        return
    g = c.ct("graph").stdout
    check(re.search(r"=> \S+  " + re.escape(d) + r"/f \(created, renamed\)",
                    g), "graph: sh => mv via f (created, renamed)")
    check(re.search(r"=> \S+  " + re.escape(d) +
                    r"/g \(renamed into, read\)", g),
          "graph: mv => cat via g (renamed into, read)")
    gj = json.loads(c.ct("graph", "--json").stdout)
    procs = {n["proc"]: n for n in gj["nodes"]}
    flows = {(procs[e["from"]]["argv"][0], procs[e["to"]]["argv"][0],
              tuple(e["paths"])) for e in gj["edges"]
             if e["type"] == "dataflow"}
    check(("sh", "mv", (d + "/f",)) in flows and
          ("mv", "cat", (d + "/g",)) in flows,
          f"graph --json: rename edges ({flows})")
    why = c.ct("why", str(rd[0]["seq"])).stdout
    check(f"the event's path {d}/g, renamed into place by" in why and
          "mv f g" in why, "why: g was renamed into place by mv")
    check(re.search(r"renamed " + re.escape(d) + r"/f, created by \S+ sh -c",
                    why), "why: mv renamed f, created by sh (recursive)")
    wj = json.loads(c.ct("why", str(rd[0]["seq"]), "--json").stdout)
    fl = wj["dataflow"]
    check(any(x["path"] == d + "/g" and x["writer"]["op"] == "renamed into"
              and x["depth"] == 0 for x in fl) and
          any(x["path"] == d + "/f" and x["writer"]["op"] == "created" and
              x.get("reader", {}).get("op") == "renamed" and x["depth"] == 1
              for x in fl), f"why --json: rename flow ({fl})")


def test_orphan_and_why(c):
    c.ct("run", "--quiet", "--", "sh", "-c",
         '(sh -c "sleep 0.3; touch orphaned" &); echo bye')
    d = os.path.realpath(c.dir)
    check(os.path.exists(d + "/orphaned"), "orphan: ran to its end")
    doc = c.export()
    procs = {p["proc"]: p for p in doc["processes"]}
    t = [e for e in doc["events"] if e["kind"] == "open" and
         e.get("path") == d + "/orphaned"]
    check(len(t) == 1, "orphan: its touch is recorded")
    if not t:
        return
    chain, p = [], procs.get(t[0]["proc"])
    while p:
        chain.append(p)
        p = procs.get(p.get("parent"))
    chain.reverse()
    names = [(x.get("argv") or ["?"])[0] for x in chain]
    check(names == ["sh", "sh", "sh", "touch"],
          f"orphan: lineage root sh -> subshell -> sh -> touch ({names})")
    check(not any(x.get("parent_inferred") for x in chain),
          "orphan: no inferred link: the lineage is known")
    check(len([x for x in doc["processes"] if "parent" not in x]) == 1,
          "orphan: one root")
    check(chain[2]["argv"] == ["sh", "-c", "sleep 0.3; touch orphaned"] and
          chain[2].get("exit_code") == 0 and chain[2]["end"] > chain[0]["end"],
          "orphan: the background sh outlived the root and its exit is "
          "recorded")

    # why: every step names its edge kind and start time
    seq = t[0]["seq"]
    why = c.ct("why", str(seq)).stdout
    steps = [l for l in why.splitlines() if re.search(r"\d+\.\d+ ", l) and
             "started +" in l]
    check(len(steps) == 4, f"why: four steps ({len(steps)})")
    kinds = [re.search(r"\((\w+)(?: \+ exec)?[,)].*started \+(\d+\.\d+)s\)",
                       l) for l in steps]
    check(all(kinds), f"why: each step has (EDGE..., started +T s) {steps}")
    if all(kinds) and len(kinds) == 4:
        check([k.group(1) for k in kinds][:3] == ["root", "fork", "fork"],
              f"why: edges root, fork, fork ({[k.group(1) for k in kinds]})")
        check("fork + exec" in steps[2], "why: the background sh forked "
              "and exec'd")
        ts = [float(k.group(2)) for k in kinds]
        check(ts == sorted(ts) and ts[3] >= 0.25,
              f"why: start times in order, touch after the sleep ({ts})")
    ev = [l for l in why.splitlines() if f"#{seq} +" in l]
    check(len(ev) == 1 and f"open {d}/orphaned" in ev[0],
          "why: the event line with its time")
    wj = json.loads(c.ct("why", str(seq), "--json").stdout)
    ch = wj["chain"]
    check([s["edge"] for s in ch][:3] == ["root", "fork", "fork"] and
          ch[2]["exec"] is True,
          f"why --json: edges ({[(s['edge'], s['exec']) for s in ch]})")
    check([s["proc"] for s in ch] == [x["proc"] for x in chain] and
          [s["start"] for s in ch] == [x["start"] for x in chain],
          "why --json: each step's proc and start time")
    check(wj["event"]["ts"] >= ch[-1]["start"], "why --json: event time")


def main():
    ctrace = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        for name, fn in (("reuse", test_reuse), ("terminal", test_terminal),
                         ("rename", test_rename),
                         ("orphan", test_orphan_and_why)):
            fn(Ctx(ctrace, tmp, name))
    for s in skipped:
        print("SKIP:", s)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
