#!/usr/bin/env python3
"""ctrace run evaluates the rules while the command runs (each event
offered as the collector stores it, or fed from the store after a burst
the collector was busy with: rules/rules.h, struct ct_rules_stream); its
summary must list exactly what `ctrace audit` finds afterwards on the same
session.  A burst of 400,000 events from two processes at full speed
(ct-bench-hook flood; 100,000 opens from Python in the sanitizer build,
which has no benchmark programs) before the rest makes polls busy, so
both ways are taken.  The workload spreads the events of a threshold (30 deletions
outside the workspace, 40 ms apart, in one process), of a per-process
threshold and of a sequence over more than a second, so that they straddle
feed boundaries; an `under` rule and shipped event rules fire as well.
Needs CT_BUILD and CT_SRC.  (Feed boundaries are placed exactly in the
unit test tests/unit/test_rules_stream.c.)
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_rules import CTRACE, Env  # noqa: E402

EXTRA = """rules:
  - id: tick-burst
    severity: low
    description: ticks opened in a burst
    kind: open
    path: '*/tick-*'
    threshold: {count: 5, within: 10s, per: process}
  - id: marker-sequence
    severity: medium
    description: marker a then marker b
    sequence:
      - {kind: open, path: '*/marker-a'}
      - {kind: open, path: '*/marker-b'}
    within: 60s
    per: session
  - id: under-shell
    severity: info
    description: a marker opened under a shell
    kind: open
    path: '*/under-marker'
    under: [bash]
"""

SCRIPT = r"""
cat ~/.ssh/id_rsa >/dev/null
eval "$FLOOD" >/dev/null
: > marker-a
python3 - "$OUT" <<'PY'
import os, sys, time
for i in range(30):
    os.unlink(os.path.join(sys.argv[1], "f%d" % i))
    time.sleep(0.04)
for i in range(12):
    open("tick-%d" % i, "w").close()
    time.sleep(0.05)
PY
: > marker-b
sh -c ': > under-marker'
echo 'export X=1' >> ~/.bashrc
"""

LINE = re.compile(r"^ctrace: (\w+) +(\S+): (.*)$")


def main():
    if not os.access(CTRACE, os.X_OK):
        print("no ctrace in CT_BUILD")
        return 2
    env = Env()
    fails = []
    try:
        out = os.path.join(env.root, "outside")
        os.makedirs(out)
        for i in range(30):
            env.write(os.path.join(out, "f%d" % i), "x")
        extra = os.path.join(env.root, "extra.yaml")
        env.write(extra, EXTRA)
        env.env["OUT"] = out
        # the sanitizer build has no benchmark programs: a slower burst
        bench = os.path.join(os.path.dirname(CTRACE), "tests",
                             "ct-bench-hook")
        if os.access(bench, os.X_OK):
            env.env["FLOOD"] = "'%s' flood 2 400000" % bench
            burst = 400000
        else:
            env.env["FLOOD"] = ("python3 -c 'import os\nfor _ in "
                                "range(100000): os.close(os.open("
                                "\"/dev/null\", os.O_RDONLY))'")
            burst = 100000
        p = env.ctrace("run", "--rules", extra, "--", "bash", "-c", SCRIPT)
        if p.returncode != 0:
            fails.append("run failed (%d): %s" % (p.returncode, p.stderr))
        listed = [LINE.match(ln).groups() for ln in p.stderr.splitlines()
                  if LINE.match(ln) and not ln.startswith("ctrace: session")
                  and not ln.startswith("ctrace: see ")]
        m = re.search(r"rule hits: (\d+)", p.stderr)
        run_hits = int(m.group(1)) if m else -1

        a = env.ctrace("audit", "--policy", extra, "--format", "json",
                       "--min-severity", "info")
        if a.returncode != 1:
            fails.append("audit exits %d: %s" % (a.returncode, a.stderr))
        vs = json.loads(a.stdout)["violations"]
        want = [(v["severity"], v["rule"], v["summary"]) for v in vs]
        if run_hits != len(vs):
            fails.append("run counted %d hits, audit %d" % (run_hits,
                                                            len(vs)))
        if listed != want[:10]:
            fails.append("run listed %s\naudit found %s" % (listed,
                                                            want[:10]))
        ss = json.loads(env.ctrace("sessions", "--json").stdout)
        if [x.get("rule_hits") for x in ss] != [len(vs)]:
            fails.append("session record: %s" % ss)
        if ss and (ss[0].get("events", 0) < burst or ss[0].get("lost")):
            fails.append("the flood was not recorded whole: %s" % ss)
        got = {v["rule"]: v for v in vs}
        for r in ("mass-deletion-outside-workspace", "tick-burst",
                  "marker-sequence", "under-shell", "ssh-private-key-read",
                  "shell-rc-write"):
            if r not in got:
                fails.append("%s not raised (%s)" % (r, sorted(got)))
        # all 30 deletions in one violation, 12 ticks in one
        md = got.get("mass-deletion-outside-workspace")
        if md and len(md["seq"]) != 30:
            fails.append("mass deletion holds %d events" % len(md["seq"]))
        tb = got.get("tick-burst")
        if tb and len(tb["seq"]) != 12:
            fails.append("tick-burst holds %d events" % len(tb["seq"]))
        ms = got.get("marker-sequence")
        if ms and len(ms["seq"]) != 2:
            fails.append("marker-sequence holds %s" % ms["seq"])
    finally:
        env.cleanup()
    for f in fails:
        print("FAIL:", f)
    if fails:
        return 1
    print("ok: run summary and audit agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
