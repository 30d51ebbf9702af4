#!/usr/bin/env python3
"""Issue 9, item 4: load.  500 short-lived processes x 8 threads x 1,000
events, every one stored and attributed to its process; 4 concurrent
`ctrace run`s on one store; a long run (--long SECONDS; 600 in the slow
variant, a short one in the normal run) whose collector heap stays flat."""
import json
import os
import subprocess
import sys
import time

import ft

LONG = 15
if "--long" in sys.argv:
    LONG = int(sys.argv[sys.argv.index("--long") + 1])
s = ft.Suite("fault/load" + ("_long" if "--long" in sys.argv else ""))
W = ft.prog("ft_writer")
d = s.path("w")
os.makedirs(d)


def tree(sid):
    r = s.ctrace("tree", sid, "--json", timeout=300)
    return json.loads(r.stdout)


def walk(nodes):
    for n in nodes:
        yield n
        yield from walk(n.get("children", []))


if "--long" not in sys.argv:
    # 500 processes (each a new image: fork + exec) x 8 threads x 1000.
    P, T, N = 500, 8, 1000
    t0 = time.monotonic()
    r = s.traced([W, "-p", str(P), "-c", "8", "-t", str(T), "-n", str(N),
                  "-x", d, "L"], name="load", timeout=300)
    took = time.monotonic() - t0
    err = r.stderr.decode(errors="replace")
    s.check("load: exit 0 (%.1fs)" % took, r.returncode == 0, err)
    s.check("load: the rules ran on the whole session",
            "cannot evaluate" not in err, err)
    sess = s.session(s.session_by_name("load")["id"])
    # every child: fork, exec intent, start, exit; the root: start, exit
    want = P * T * N + 4 * P + 2
    s.check("load: %d events stored (want %d)" % (sess["events"], want),
            sess["events"] == want)
    s.check("load: lost 0", sess["lost"] == 0, sess["lost"])
    s.check("load: 501 processes", sess["processes"] == P + 1,
            sess["processes"])
    procs = list(walk(tree(sess["id"])["processes"]))
    writers = [p for p in procs if p.get("counts", {}).get("unlink")]
    bad = [p["proc"] for p in writers
           if p["counts"]["unlink"] != T * N]
    s.check("load: 500 writer processes in the tree, each with its 8000 "
            "unlinks", len(writers) == P and not bad, (len(writers), bad[:5]))
    s.check("load: per-process counts add up to the session's",
            sum(p.get("events", 0) for p in procs) == sess["events"],
            sum(p.get("events", 0) for p in procs))

    # Four concurrent runs on one store.
    runs = []
    for i in range(4):
        args = [ft.CTRACE, "run", "--quiet", "--name", "conc%d" % i, "--",
                W, "-p", "20", "-c", "4", "-t", "4", "-n", "1000", d,
                "C%d" % i]
        runs.append(subprocess.Popen(args, env=s.env,
                                     stderr=subprocess.PIPE))
    for i, p in enumerate(runs):
        _, err = p.communicate(timeout=300)
        s.check("conc%d: exit 0" % i, p.returncode == 0, err)
    for i in range(4):
        sess = s.session_by_name("conc%d" % i)
        if not s.check("conc%d: recorded" % i, sess is not None):
            continue
        sess = s.session(sess["id"])
        procs = list(walk(tree(sess["id"])["processes"]))
        n = sum(p.get("counts", {}).get("unlink", 0) for p in procs)
        s.check("conc%d: 80,000 unlinks, lost 0 (%d, %d)" %
                (i, n, sess["lost"]), n == 80000 and sess["lost"] == 0)

# A long run: writers come and go for LONG seconds at a steady pace (four
# processes every second or so, ~2,000 events a second); the collector's
# heap (RssAnon of ctrace run) must not grow with time.  (It does grow by
# a few hundred bytes per process, which the process model keeps.)
script = r'''
end=$(( $(date +%s) + $3 ))
i=0
while [ "$(date +%s)" -lt "$end" ]; do
  "$1" -p 4 -c 2 -t 2 -n 200 -u 2000 -x "$2" R$i || exit 1
  i=$((i + 1))
done
'''
p = subprocess.Popen([ft.CTRACE, "run", "--quiet", "--name", "long", "--",
                      "sh", "-c", script, "sh", W, d, str(LONG)],
                     env=s.env, stderr=subprocess.PIPE)
samples = []
while p.poll() is None:
    kb = None
    try:
        with open("/proc/%d/status" % p.pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    kb = int(line.split()[1])
    except OSError:
        pass
    if kb:
        samples.append((time.monotonic(), kb))
    time.sleep(max(0.5, LONG / 100))
_, err = p.communicate()
s.check("long: %ds run exits 0" % LONG, p.returncode == 0, err)
sess = s.session(s.session_by_name("long")["id"])
s.check("long: %d events, lost 0" % sess["events"], sess["lost"] == 0 and
        sess["events"] > 0, sess["lost"])
if s.check("long: heap sampled (%d samples)" % len(samples),
           len(samples) >= 8):
    q = len(samples) // 4
    early = max(kb for _, kb in samples[q:2 * q])
    late = max(kb for _, kb in samples[3 * q:])
    print("collector RssAnon: first %d KiB, second quarter max %d KiB, "
          "last quarter max %d KiB" % (samples[0][1], early, late))
    s.check("long: collector heap flat (last quarter %d KiB <= second "
            "quarter %d KiB + 8 MiB)" % (late, early),
            late <= early + 8192)
s.finish()
