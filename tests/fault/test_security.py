#!/usr/bin/env python3
"""Issue 9, item 7: security.  The store and the ring are the user's alone
(modes, under a permissive umask too); another user's processes cannot put
events into a session (through the shim, by attaching the ring, or by
planting a ring or symlink for recovery); no view runs a shell on trace
data (test_hostile.py runs every view on names holding $(...) and
backticks; this file checks how ctrace starts other programs)."""
import os
import pwd
import re
import shutil
import stat
import struct
import subprocess
import time

import ft

s = ft.Suite("fault/security")
uid = os.getuid()
W = ft.prog("ft_writer")

# Modes, with umask 0 so nothing is left to the umask.
old = os.umask(0)
probe = s.path("probe")
r = s.traced(["sh", "-c", 'stat -c "%a %u %n" "$CTRACE_RING" > "$0"', probe],
             name="modes")
os.umask(old)
mode, owner, ring = open(probe).read().split()
s.check("ring %s: mode 0600 (%s)" % (ring, mode), mode == "600")
s.check("ring: owned by the user", int(owner) == uid)
s.check("ring: in /dev/shm, named for this uid",
        ring.startswith("/dev/shm/ctrace-%d-" % uid))
st = os.stat(s.home)
s.check("store folder mode 0700 (%o)" % (st.st_mode & 0o777),
        st.st_mode & 0o777 == 0o700)
for f in ("data.mdb", "lock.mdb"):
    m = os.stat(os.path.join(s.home, f)).st_mode & 0o777
    s.check("store %s mode 0600 (%o)" % (f, m), m == 0o600)
s.check("ring removed at the end", not os.path.exists(ring))

# How ctrace starts programs: the command (execvp of argv, no shell), the
# pager (posix_spawnp of $PAGER split on blanks), the demo's fixed script.
# No system(), popen() or "sh -c" built from anything else.
srcs = []
for layer in ("cli", "analyzer", "collector", "rules", "common"):
    for f in sorted(os.listdir(os.path.join(ft.SRC, layer))):
        if f.endswith(".c"):
            srcs.append(os.path.join(ft.SRC, layer, f))
calls = []
for path in srcs:
    text = open(path, errors="replace").read()
    for m in re.finditer(r"\b(system|popen|execl|execlp|execle|execv|execvp|"
                         r"execve|posix_spawnp?)\s*\(", text):
        line = text.count("\n", 0, m.start()) + 1
        calls.append("%s:%d:%s" % (os.path.relpath(path, ft.SRC), line,
                                   m.group(1)))
allowed = re.compile(r"^(cli/cmd_run\.c:\d+:execvp|analyzer/out\.c:\d+:"
                     r"posix_spawnp|cli/cmd_demo\.c:\d+:(execlp|execvp?|"
                     r"posix_spawnp?))$")
odd = [c for c in calls if not allowed.match(c)]
s.check("ctrace starts programs only in the three known places", not odd,
        odd)
s.check("no system() or popen() in ctrace itself",
        not [c for c in calls if c.endswith(("system", "popen"))])

# Another user's processes.
if uid != 0:
    ft.skip("the cross-user checks need root (to run a process as nobody)")
try:
    nobody = pwd.getpwnam("nobody")
except KeyError:
    ft.skip("no user nobody")
setpriv = shutil.which("setpriv")
if not setpriv:
    ft.skip("setpriv not installed")
as_nobody = [setpriv, "--reuid=%d" % nobody.pw_uid,
             "--regid=%d" % nobody.pw_gid, "--clear-groups"]
shared = s.path("shared")
os.makedirs(shared)
os.chmod(s.tmp, 0o755)
os.chmod(shared, 0o777)
probe = subprocess.run(as_nobody + [W, "-n", "1", shared, "P"],
                       capture_output=True)
if probe.returncode != 0:
    ft.skip("nobody cannot run the test programs here: %r" % probe.stderr)

# A traced session that waits; meanwhile nobody tries to write into it.
gate = s.path("gate")
p = subprocess.Popen([ft.CTRACE, "run", "--quiet", "--name", "victim", "--",
                      "sh", "-c", 'echo "$CTRACE_RING $CTRACE_SESSION" > '
                      '"$0"; while [ ! -e "$0.go" ]; do sleep 0.05; done; '
                      '"$1" -n 10 "$2" OWN', gate, W, shared],
                     env=s.env)
for _ in range(200):
    if os.path.exists(gate) and open(gate).read().strip():
        break
    time.sleep(0.05)
ring, session = open(gate).read().split()
shim = os.path.join(ft.BUILD, "libctrace-preload.so")
env = {"PATH": "/usr/bin:/bin", "LD_PRELOAD": shim, "CTRACE_SHIM": shim,
       "CTRACE_RING": ring, "CTRACE_SESSION": session}
# 1. the shim in nobody's process, pointed at the ring: it cannot attach
r = subprocess.run(as_nobody + [W, "-n", "50", shared, "EVIL"], env=env,
                   capture_output=True)
s.check("nobody's traced process runs unharmed (exit %d)" % r.returncode,
        r.returncode == 0, r.stderr)
# 2. attaching the ring directly
r = subprocess.run(as_nobody + [ft.prog("ft_inject"), shared], env=env,
                   capture_output=True)
s.check("nobody cannot attach the ring", b"FAIL: attach" in r.stderr,
        r.stderr)
# 3. opening it at all
r = subprocess.run(as_nobody + ["sh", "-c", 'exec 3<>"$0"', ring],
                   capture_output=True)
s.check("nobody cannot open the ring", r.returncode != 0)
open(gate + ".go", "w").close()
p.wait(timeout=60)
evs = s.events(session)
tags = ft.writer_paths(evs, "EVIL")
s.check("no event of nobody's in the session", not tags and not any(
    "EVIL" in (e.get("path") or "") for e in evs))
s.check("the session's own events are there",
        len(ft.writer_paths(evs, "OWN").get((0, 0), ())) == 10)

# 4. a ring planted by nobody under this uid's name, for recovery to find:
# a well-formed header, its "owner" dead, naming this store.
fake_id = 0x7fffffff00000001
fake = "/dev/shm/ctrace-%d-%016x" % (uid, fake_id)
hdr = bytearray(4096 + 65536)
struct.pack_into("<QIIQQi", hdr, 0, 0x474e495254435443, 1, uid, 65536,
                 fake_id, 999999)
hdr[2048:2048 + len(s.home)] = s.home.encode()
r = subprocess.run(as_nobody + ["sh", "-c", 'umask 077; cat > "$0"', fake],
                   input=bytes(hdr), capture_output=True)
planted = r.returncode == 0 and os.path.exists(fake)
link = "/dev/shm/ctrace-%d-%016x" % (uid, fake_id + 1)
subprocess.run(as_nobody + ["ln", "-s", os.path.join(s.home, "data.mdb"),
                            link], capture_output=True)
before = open(os.path.join(s.home, "data.mdb"), "rb").read()
r = s.ctrace("sessions")
s.check("a ring planted by another user is not recovered",
        b"recovered" not in r.stderr, r.stderr)
s.check("nor is a symlink followed", os.path.islink(link) or
        not os.path.lexists(link))
if planted:
    s.check("the planted file is left alone (not this user's)",
            os.path.exists(fake) and
            os.stat(fake).st_uid == nobody.pw_uid)
for f in (fake, link):
    if os.path.lexists(f):
        os.unlink(f)
s.finish()
