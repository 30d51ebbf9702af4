#!/usr/bin/env python3
"""Run one workload under `ctrace run` and diff what it says it did against
what ctrace recorded (the pattern of strace's own test suite).

    check.py CTRACE WORKLOAD [ARG...]

The workload runs in a fresh temporary folder (its cwd), with CTRACE_HOME
and HOME pointed inside it; the folder's path is also its last argument.
Every line it prints on stdout that starts with '{' is an expectation: a
JSON object that must be a subset of one recorded event, e.g.

    {"kind":"unlink","path":"/tmp/x/a","result":0}
    {"kind":"open","path":"/tmp/x/b","errno":"ENOENT"}

Expectations must match events in the order printed (a subsequence of the
session's events; each event matches at most one expectation).  Besides the
export's event fields an expectation may use
    "argv0": basename of argv[0] of the event's process (latest image)
    "chain": list of argv0 basenames from the root down to the process
    "flags~": a flag name that must appear in the event's flags
    "count": N   the object (without count) must match exactly N events
    "absent": true   no event may match the object
    "ts>=": T, "ts<=": T   bounds on the event's ts
A line {"exit": N} sets the exit status expected of ctrace run (default 0).
A line {"bare": true} asks that the workload also run without ctrace, in a
fresh folder of its own, and that its stdout and exit status be the same
as under ctrace: the folder's path is read as "<T>" in both, and in
expectation lines the values that are process or thread ids ("pid", "tid",
and "result" of fork events) are not compared.
Exit 0 when all match, 1 with a report otherwise, 77 to skip.
"""
import difflib
import json
import os
import subprocess
import sys
import tempfile


def load(ctrace, env):
    out = subprocess.run([ctrace, "export", "--format", "json"], env=env,
                         capture_output=True, check=True).stdout
    return json.loads(out)


def describe(ev):
    keys = ("seq", "kind", "pid", "path", "path2", "flags", "argv", "exe",
            "addr", "result", "errno", "exit_code", "signal", "reason")
    return " ".join(f"{k}={json.dumps(ev[k])}" for k in keys if k in ev)


def matches(exp, ev, procs):
    for k, v in exp.items():
        if k in ("count", "absent"):
            continue
        if k == "argv0":
            p = procs.get(ev.get("proc"))
            argv = p.get("argv") if p else None
            if not argv or os.path.basename(argv[0]) != v:
                return False
        elif k == "chain":
            chain, p = [], procs.get(ev.get("proc"))
            while p:
                argv = p.get("argv") or ["?"]
                chain.append(os.path.basename(argv[0]))
                p = procs.get(p.get("parent"))
            if chain[::-1][-len(v):] != v:
                return False
        elif k == "flags~":
            if v not in ev.get("flags", "").split("|"):
                return False
        elif k == "ts>=":
            if ev.get("ts", -1) < v:
                return False
        elif k == "ts<=":
            if ev.get("ts", v + 1) > v:
                return False
        elif ev.get(k) != v:
            return False
    return True


def normal(out, tmp):
    """out (stdout text) as compared with the bare run's."""
    lines = []
    for line in out.replace(tmp, "<T>").splitlines():
        if line.startswith("{"):
            o = json.loads(line)
            for k in ("pid", "tid"):
                if k in o:
                    o[k] = "<pid>"
            if o.get("kind") == "fork" and "result" in o:
                o["result"] = "<pid>"
            line = json.dumps(o, sort_keys=True)
        lines.append(line)
    return lines


def run_bare(work):
    """Run the workload without ctrace: (exit status as ctrace run reports
    it, stdout normalised, stderr)."""
    with tempfile.TemporaryDirectory(prefix="ct-e2e-bare-") as tmp:
        tmp = os.path.realpath(tmp)
        env = dict(os.environ, HOME=os.path.join(tmp, ".home"))
        for k in [k for k in env if k.startswith("CTRACE_")]:
            del env[k]
        env.pop("LD_PRELOAD", None)
        os.makedirs(env["HOME"])
        run = subprocess.run(work + [tmp], cwd=tmp, env=env,
                             capture_output=True)
        rc = run.returncode if run.returncode >= 0 else 128 - run.returncode
        return (rc, normal(run.stdout.decode("utf-8", "replace"), tmp),
                run.stderr.decode("utf-8", "replace"))


def same_as_bare(work, rc, out, tmp):
    """Differences between this run (exit rc, stdout out) and a bare one."""
    brc, bout, berr = run_bare(work)
    out = normal(out, tmp)
    bad = []
    if brc != rc:
        bad.append(f"exit status {rc} under ctrace, {brc} without; "
                   f"stderr without: {berr[-2000:]}")
    if bout != out:
        diff = difflib.unified_diff(bout, out, "without ctrace",
                                    "under ctrace", lineterm="", n=1)
        bad.append("stdout differs from the run without ctrace:\n    " +
                   "\n    ".join(list(diff)[:40]))
    return bad


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    ctrace = os.path.abspath(sys.argv[1])
    work = sys.argv[2:]
    with tempfile.TemporaryDirectory(prefix="ct-e2e-") as tmp:
        tmp = os.path.realpath(tmp)
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, ".ctrace"),
                   HOME=os.path.join(tmp, ".home"))
        os.makedirs(env["HOME"])
        run = subprocess.run([ctrace, "run", "--quiet", "--"] + work + [tmp],
                             cwd=tmp, env=env, capture_output=True)
        out = run.stdout.decode("utf-8", "replace")
        if run.returncode == 77 and "SKIP" in out:
            print(out.strip())
            return 77
        exps, want_exit, bare = [], 0, False
        for line in out.splitlines():
            if not line.startswith("{"):
                continue
            o = json.loads(line)
            if list(o) == ["exit"]:
                want_exit = o["exit"]
            elif list(o) == ["bare"]:
                bare = o["bare"] is True
            else:
                exps.append(o)
        doc = load(ctrace, env)
        events = doc["events"]
        procs = {p["proc"]: p for p in doc["processes"]}
        bad = []
        if run.returncode != want_exit:
            bad.append(f"ctrace run exited {run.returncode}, expected "
                       f"{want_exit}; stderr: {run.stderr.decode()[-2000:]}")
        if not exps:
            bad.append("the workload printed no expectations")
        if bare:
            bad += same_as_bare(work, run.returncode, out, tmp)
        pos = 0
        for exp in exps:
            if exp.get("absent") or "count" in exp:
                n = sum(1 for ev in events if matches(exp, ev, procs))
                want = 0 if exp.get("absent") else exp["count"]
                if n != want:
                    bad.append(f"expected {want} events matching "
                               f"{json.dumps(exp)}, found {n}")
                continue
            for i in range(pos, len(events)):
                if matches(exp, events[i], procs):
                    pos = i + 1
                    break
            else:
                bad.append("not recorded (in order): " + json.dumps(exp))
        if bad:
            print(f"FAIL {' '.join(work)}")
            for b in bad:
                print("  " + b)
            print("  recorded events:")
            for ev in events:
                print("    " + describe(ev))
            return 1
        print(f"ok {' '.join(work)}: {len(exps)} expectations, "
              f"{len(events)} events" +
              (", same output without ctrace" if bare else ""))
        return 0


if __name__ == "__main__":
    sys.exit(main())
