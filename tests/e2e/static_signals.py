#!/usr/bin/env python3
"""EINTR from file syscalls of a static program under a signal storm, with
and without `ctrace run` (docs/static.md, "Signals").

    static_signals.py CTRACE EINTR_STATIC EXEC_STATIC EINTR_GATED

Runs static/eintr_static.c bare and under ctrace run, with its SIGALRM
handler installed with SA_RESTART and without.  None of its calls can
fail with EINTR bare.  Under ctrace a signal that lands before the
supervisor has received the notification cuts the kernel's wait short
(-ERESTARTSYS): with SA_RESTART the kernel restarts the call; without,
the supervisor, which traces the tasks of a program that catches signals,
turns it into a restart at the signal-delivery stop.  The same program
built dynamic (EINTR_GATED) runs again below a static parent
(EXEC_STATIC), whose filter stops the calls libc makes inside execve
(fopen, mkstemp and tmpfile pass it like the shim's own calls): its shim
tries those again.  Required: no
call fails, with EINTR or otherwise, in any of the runs.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

N = "10000"


def main():
    ctrace, prog, parent, gated = sys.argv[1:5]
    tmp = tempfile.mkdtemp(prefix="ct-static-sig-")
    bad = []
    try:
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, ".ctrace"),
                   HOME=tmp, TMPDIR=tmp)
        env.pop("LD_PRELOAD", None)
        runs = [("static", [prog]), ("below static", [parent, gated])]
        for mode in ("restart", "norestart"):
            for (kind, pre), traced in [(r, t) for r in runs
                                        for t in (False, True)]:
                cmd = pre + [N, mode]
                if traced:
                    cmd = [ctrace, "run", "--quiet", "--"] + cmd
                p = subprocess.run(cmd, env=env, capture_output=True,
                                   text=True, timeout=300)
                m = re.search(r"eintr (\d+) signals (\d+) failed (\d+)",
                              p.stdout)
                what = "%s %s %s" % (kind, "ctrace" if traced else "bare",
                                     mode)
                if p.returncode != 0 or not m:
                    bad.append("%s: exit %d, %s %s" % (
                        what, p.returncode, p.stdout, p.stderr[-1000:]))
                    continue
                eintr, sigs = int(m.group(1)), int(m.group(2))
                print("%-31s EINTR %5d of %s rounds x 10 calls, %d signals"
                      % (what, eintr, N, sigs))
                if sigs == 0:
                    bad.append("%s: no signal arrived" % what)
                if eintr:
                    bad.append("%s: %d EINTR" % (what, eintr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for b in bad:
        print("FAIL: " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
