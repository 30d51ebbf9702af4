#!/usr/bin/env python3
"""`kill -9` of `ctrace run` must not harm a covered static program.

    static_kill.py CTRACE CREATOR

CREATOR (static/creator_static.c) creates and renames files for about two
seconds under `ctrace run`; ctrace run is killed with SIGKILL a third of the
way in.  The seccomp supervisor is a process of its own: the program must
finish as it would have (every file, exit 0, no ENOSYS), and its events,
those after the kill included, must reach the store through the ring's
recovery by the next ctrace command (`ctrace sessions`).
"""
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

N, DELAY_US = 300, 6000
PR_SET_CHILD_SUBREAPER = 36


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def wait_for(pred, secs):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def main():
    ctrace, creator = sys.argv[1], sys.argv[2]
    # the orphaned program (and the supervisor) are reparented to us, so
    # the program's exit status can be read
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1):
        print("SKIP: no PR_SET_CHILD_SUBREAPER")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="ct-static-kill-")
    try:
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, ".ctrace"),
                   HOME=os.path.join(tmp, "home"), TMPDIR=tmp)
        env.pop("LD_PRELOAD", None)
        os.makedirs(env["HOME"])
        run = subprocess.Popen([ctrace, "run", "--quiet", "--", creator,
                                work, str(N), str(DELAY_US)], env=env,
                               cwd=tmp, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        third = os.path.join(work, "g%d" % (N // 3))
        if not wait_for(lambda: os.path.exists(third), 60):
            run.kill()
            fail("the program did not get going: %s" %
                 run.communicate()[1].decode()[-2000:])
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        killed_at = sum(1 for f in os.listdir(work) if f.startswith("g"))
        pid = int(open(os.path.join(work, "pid")).read())
        st = None
        end = time.time() + 60
        while st is None and time.time() < end:
            got, status = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                st = status
            else:
                time.sleep(0.01)
        if st is None:
            os.kill(pid, signal.SIGKILL)
            fail("the program did not finish within 60 s")
        err = run.stderr.read().decode()
        if not os.WIFEXITED(st) or os.WEXITSTATUS(st) != 0:
            fail("the program ended with status %#x after the kill; "
                 "stderr: %s" % (st, err[-2000:]))
        if killed_at >= N:
            fail("the program had finished before the kill")
        for i in range(N):
            p = os.path.join(work, "g%d" % i)
            if not os.path.exists(p) or open(p).read() != "%d\n" % i:
                fail("file g%d missing or wrong" % i)
            if os.path.exists(os.path.join(work, "f%d" % i)):
                fail("f%d was not renamed" % i)
        if not os.path.exists(os.path.join(work, "done")):
            fail("no done file")

        # the next ctrace command recovers the ring
        s = subprocess.run([ctrace, "sessions"], env=env,
                           capture_output=True, text=True)
        if s.returncode != 0 or "recovered" not in s.stderr:
            fail("ctrace sessions did not recover the ring: rc %d, %s" %
                 (s.returncode, s.stderr[-2000:]))
        doc = json.loads(subprocess.run(
            [ctrace, "export", "--format", "json"], env=env,
            capture_output=True, check=True).stdout)
        evs = [e for e in doc["events"] if e.get("pid") == pid]
        renamed = {e.get("path2") for e in evs if e["kind"] == "rename"
                   and e.get("source") == "seccomp"}
        # every rename after the kill (the collector's last batch before
        # it may have died with ctrace run, in its memory, not the ring)
        want = {os.path.join(work, "g%d" % i) for i in range(killed_at, N)}
        if not want <= renamed:
            miss = sorted(want - renamed, key=lambda p: int(p[len(work) + 2:]))
            fail("%d renames after the kill missing from the store (killed "
                 "at g%d), first %s" % (len(miss), killed_at, miss[:3]))
        exits = [e for e in evs if e["kind"] == "exit"]
        if not exits or exits[-1].get("exit_code") != 0:
            fail("no exit 0 recorded for the program: %s" % exits)
        print("ok: killed at %d of %d files; program exit 0; %d of %d "
              "renames in the store" % (killed_at, N, len(renamed), N))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
