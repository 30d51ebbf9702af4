#!/usr/bin/env python3
"""A static program whose tasks the seccomp supervisor traces behaves as
bare (docs/static.md, "Signals").

    static_sigjobs.py CTRACE SIGJOBS

Runs static/sigjobs_static.c bare and under `ctrace run`: job control
(a child stopped by SIGSTOP and continued, as its parent sees it), every
SIGUSR1 handled once, a FIFO open cut by SIGALRM failing with EINTR, and
the dynamic program it execs (cat /proc/self/status) untraced, exec'd
from the main thread of a child and from a second thread.  The
output must be the same, except that the program itself is traced under
ctrace (which makes the last check mean something), and the events of
the stopped child must be recorded.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile


def run(cmd, env, cwd):
    """Run cmd in a process group of its own, killed whole if it hangs (a
    FIFO open restarted instead of failing would block for good)."""
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        err += "\n(timed out after 60 s)"
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def facts(out):
    lines, tracer = [], []
    for ln in out.splitlines():
        if ln.startswith("TracerPid:"):
            lines.append("exec'd TracerPid " + ln.split()[1])
        elif ln.startswith(("tracer before exec", "new thread traced",
                            "new child traced")):
            tracer.append(ln.split()[-1])
        elif not ln.split(":")[0] in ("Name", "Umask", "State", "Tgid",
                                       "Ngid", "Pid", "PPid", "Uid",
                                       "Gid", "FDSize", "Groups") and \
                not ":" in ln:
            lines.append(ln)
    return lines, tracer


def main():
    ctrace, prog = sys.argv[1], sys.argv[2]
    cat = shutil.which("cat")
    tmp = tempfile.mkdtemp(prefix="ct-static-jobs-")
    bad = []
    try:
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, ".ctrace"),
                   HOME=tmp, TMPDIR=tmp)
        env.pop("LD_PRELOAD", None)
        got = {}
        for mode in ("bare", "ctrace"):
            d = os.path.join(tmp, mode)
            os.makedirs(d)
            cmd = [prog, d, cat]
            if mode == "ctrace":
                cmd = [ctrace, "run", "--quiet", "--"] + cmd
            p = run(cmd, env, tmp)
            if p.returncode != 0:
                bad.append("%s: exit %d: %s %s" % (mode, p.returncode,
                                                   p.stdout, p.stderr))
                continue
            got[mode] = facts(p.stdout)
            print("%s: %s; traced (program, new thread, child): %s" % (
                mode, "; ".join(got[mode][0]), got[mode][1]))
        if len(got) == 2:
            want = ["stopped by SIGSTOP", "continued", "exit 7",
                    "fifo open EINTR, alarms 1", "exec'd TracerPid 0",
                    "exec'd TracerPid 0"]
            for mode in got:
                if got[mode][0] != want:
                    bad.append("%s: %s, want %s" % (mode, got[mode][0],
                                                    want))
            # traced under ctrace: the program before its exec, and a new
            # thread and child of it before any call of theirs
            if got["bare"][1] != ["no"] * 3 or \
                    got["ctrace"][1] != ["yes"] * 3:
                bad.append("traced (program, new thread, new child): "
                           "bare %s, ctrace %s (want no, yes)" % (
                               got["bare"][1], got["ctrace"][1]))
            # the stopped child's calls are on record: 20 + 5*2 + 5
            # creations of t0..t19 in its folder, and its exit 7
            ex = run([ctrace, "export", "--format", "ndjson"], env, tmp)
            evs = [json.loads(x) for x in ex.stdout.splitlines() if x]
            opens = [e for e in evs if e.get("kind") == "open" and
                     e.get("path", "").startswith(
                         os.path.join(tmp, "ctrace") + "/t")]
            exits = [e for e in evs if e.get("kind") == "exit" and
                     e.get("exit_code") == 7]
            if len(opens) < 55 or not exits:
                bad.append("recorded %d opens under ctrace/t*, %d exit 7"
                           % (len(opens), len(exits)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for b in bad:
        print("FAIL: " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
