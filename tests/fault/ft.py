"""Shared helpers of the fault suite (tests/fault/test_*.py).

Each test makes a temporary folder, points CTRACE_HOME and HOME there,
runs real workloads under `ctrace run` and checks what the store says.
Checks are counted; the script exits 1 if any failed, 77 to skip.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("CT_BUILD") or sys.exit("CT_BUILD not set")
SRC = os.environ.get("CT_SRC", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
CTRACE = os.path.join(BUILD, "ctrace")
PROGS = os.path.join(BUILD, "tests", "fault")
FAULT_SHIM = os.environ.get("CT_FAULT_SHIM", "")


def prog(name):
    return os.path.join(PROGS, name)


class Suite:
    def __init__(self, name):
        self.name = name
        self.fails = 0
        self.passes = 0
        self.tmp = tempfile.mkdtemp(prefix="ctrace-fault-")
        self.home = os.path.join(self.tmp, "store")
        os.makedirs(os.path.join(self.tmp, "home"))
        self.env = dict(os.environ)
        self.env.update(CTRACE_HOME=self.home,
                        HOME=os.path.join(self.tmp, "home"))
        for k in ("CTRACE_FAULT", "CTRACE_SHIM_PATH", "LD_PRELOAD"):
            self.env.pop(k, None)

    def check(self, what, cond, detail=""):
        if cond:
            self.passes += 1
            print("ok   " + what, flush=True)
        else:
            self.fails += 1
            print("FAIL " + what + (": " + str(detail) if detail else ""),
                  flush=True)
        return cond

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def run(self, args, env=None, timeout=120, **kw):
        """Run a command to completion; returns CompletedProcess."""
        e = dict(self.env)
        if env:
            e.update(env)
        return subprocess.run(args, env=e, timeout=timeout,
                              capture_output=True, **kw)

    def ctrace(self, *args, env=None, timeout=120, **kw):
        return self.run([CTRACE] + list(args), env=env, timeout=timeout,
                        **kw)

    def traced(self, cmd, name=None, ring_mib=None, env=None, timeout=120,
               fault=None, **kw):
        """ctrace run --quiet [--name] [--ring-mib] -- cmd"""
        args = [CTRACE, "run"]
        if name:
            args += ["--name", name]
        if ring_mib:
            args += ["--ring-mib", str(ring_mib)]
        args += ["--"] + list(cmd)
        e = dict(env or {})
        if fault:
            e["CTRACE_SHIM_PATH"] = FAULT_SHIM
            e["CTRACE_FAULT"] = fault
        return self.run(args, env=e, timeout=timeout, **kw)

    def session(self, sid="latest"):
        r = self.ctrace("show", "--json", sid)
        if r.returncode != 0:
            raise RuntimeError("show failed: %r" % r.stderr)
        s = json.loads(r.stdout)
        return s.get("session", s)

    def session_by_name(self, name):
        r = self.ctrace("sessions", "--json")
        for s in json.loads(r.stdout):
            if s.get("name") == name:
                return s
        return None

    def events(self, sid="latest"):
        r = self.ctrace("export", sid, "--format", "ndjson", timeout=600)
        if r.returncode != 0:
            raise RuntimeError("export failed: %r" % r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines() if l.strip()]

    def finish(self):
        print("%s: %d passed, %d failed" % (self.name, self.passes,
                                            self.fails), flush=True)
        if self.fails:
            print("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        sys.exit(1 if self.fails else 0)


def skip(why):
    print("skipped: " + why, flush=True)
    sys.exit(77)


def writer_paths(events, tag):
    """{(proc, thread): set(i)} of ft_writer unlinks with this tag."""
    out = {}
    for ev in events:
        if ev.get("kind") != "unlink":
            continue
        base = os.path.basename(ev.get("path", ""))
        parts = base.split(".")
        if len(parts) != 4 or parts[0] != tag:
            continue
        key = (int(parts[1]), int(parts[2]))
        out.setdefault(key, set()).add(int(parts[3]))
    return out


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def has_ctrl(b):
    """Raw control bytes other than newline and tab (ESC included)."""
    return any((c < 0x20 and c not in (0x0a, 0x09)) or c == 0x7f for c in b)


def has_c0(b):
    """Raw C0 control bytes other than newline and tab."""
    return any(c < 0x20 and c not in (0x0a, 0x09) for c in b)
