#!/usr/bin/env python3
"""Issue 9, item 3: the collector killed at every step of a ring drain.

`ctrace-fault` is ctrace with the ring's consumer-side fault points
(common/fault.h): it SIGKILLs itself, the collector with it, after handing
on the n-th record, or in the middle of publishing a batch (after writing
its journal, after zeroing the consumed bytes, after moving tail).  The
traced writer goes on; the next ctrace command recovers the ring.  Every
record the writer made must then be either stored or counted lost: the
records the dead collector had taken from the ring but not committed are
counted, exactly, never silently gone and never stored twice.
"""
import os
import signal
import subprocess
import time

import ft

s = ft.Suite("fault/collector_death")
FCT = os.environ.get("CT_FAULT_CTRACE", "")
if not FCT or not os.path.exists(FCT):
    ft.skip("ctrace-fault was not built (CMake option CT_FAULTS is off)")
W = ft.prog("ft_writer")
d = s.path("w")
os.makedirs(d)
N = 30000
# Batches are published every 64 records (CT_RING_PUBLISH): the n-th
# publish of a drain is reached after 64 n records.
POINTS = [("ring.handed_on", 1), ("ring.handed_on", 100),
          ("ring.handed_on", 5000), ("ring.handed_on", 20000),
          ("ring.publish_journal", 3), ("ring.publish_journal", 200),
          ("ring.publish_zeroed", 3), ("ring.publish_zeroed", 200),
          ("ring.publish_tail", 3), ("ring.publish_tail", 200)]

for i, (point, n) in enumerate(POINTS):
    tag = "T%d" % i
    done = s.path("done%d" % i)
    name = "death%d" % i
    script = '"%s" -n %d %s %s; echo $? > %s' % (W, N, d, tag, done)
    env = dict(s.env, CTRACE_FAULT="%s:kill:%d" % (point, n),
               CTRACE_SHIM_PATH=os.path.join(ft.BUILD,
                                             "libctrace-preload.so"))
    p = subprocess.Popen([FCT, "run", "--quiet", "--name", name, "--", "sh",
                          "-c", script], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rc = p.wait(timeout=120)
    what = "%s:%d" % (point, n)
    s.check("%s: ctrace run died of SIGKILL at the point (rc %d)" %
            (what, rc), rc == -signal.SIGKILL, p.stderr.read())
    for _ in range(600):
        if os.path.exists(done) and open(done).read().strip():
            break
        time.sleep(0.05)
    status = open(done).read().strip() if os.path.exists(done) else None
    s.check("%s: the writer finished unharmed (status %r)" % (what, status),
            status == "0")
    # The dead collector's session is recovered by the next command.
    r = s.ctrace("sessions")
    s.check("%s: the next command recovers the ring" % what,
            b"recovered" in r.stderr, r.stderr)
    sess = s.session_by_name(name)
    if not s.check("%s: the session exists" % what, sess is not None):
        continue
    sess = s.session(sess["id"])
    evs = s.events(sess["id"])
    paths = ft.writer_paths(evs, tag)
    got = sum(len(v) for v in paths.values())
    dup = sum(1 for e in evs if e.get("kind") == "unlink" and
              os.path.basename(e.get("path", "")).startswith(tag + ".")) - got
    s.check("%s: no event stored twice" % what, dup == 0, dup)
    s.check("%s: state recovered" % what, sess.get("state") == "recovered",
            sess.get("state"))
    s.check("%s: stored %d + lost %d cover the writer's %d unlinks" %
            (what, got, sess.get("lost", 0), N),
            got <= N <= got + sess.get("lost", 0))

# The baseline: the same command, not killed, has this many records beyond
# the unlinks; the killed runs must account for the same number.
r = s.ctrace("run", "--quiet", "--name", "base", "--", "sh", "-c",
             '"%s" -n %d %s B; echo $? > %s' % (W, N, d, s.path("bdone")))
base = s.session_by_name("base")
bevs = s.events(base["id"])
extra = len(bevs) - sum(len(v) for v in ft.writer_paths(bevs, "B").values())
for i, (point, n) in enumerate(POINTS):
    sess = s.session_by_name("death%d" % i)
    if not sess:
        continue
    sess = s.session(sess["id"])
    evs = s.events(sess["id"])
    s.check("%s:%d: stored %d + lost %d == %d records of an unkilled run" %
            (point, n, len(evs), sess.get("lost", 0), N + extra),
            len(evs) + sess.get("lost", 0) == N + extra)
s.finish()
