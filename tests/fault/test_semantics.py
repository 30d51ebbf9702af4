#!/usr/bin/env python3
"""Issue 9, item 5: ctrace changes nothing a program can observe.  Each
program prints what it sees; the output with and without ctrace must be
the same: return values and errno of every hooked entry point (success and
failure), signal dispositions and masks (inherited, set, kept across
exec), vfork children, open fds, and an interactive program driven through
a terminal (tmux)."""
import os
import shutil
import subprocess
import time

import ft

s = ft.Suite("fault/semantics")


def both(name, cmd, fix=lambda b: b, env=None):
    """Run cmd("plain") untraced and cmd("traced") under ctrace (a list,
    or a function of which run it is); compare stdout after fix()."""
    mk = cmd if callable(cmd) else (lambda which: cmd)
    plain = s.run(mk("plain"), env=env)
    traced = s.traced(mk("traced"), name=name, env=env)
    a, b = fix(plain.stdout), fix(traced.stdout)
    same = a == b and plain.returncode == traced.returncode
    if not same:
        import difflib
        diff = "\n".join(difflib.unified_diff(
            a.decode(errors="replace").splitlines(),
            b.decode(errors="replace").splitlines(), "untraced", "traced",
            lineterm="", n=1))
        print(diff[:3000])
    s.check("%s: same output and status with and without ctrace (%d)" %
            (name, plain.returncode), same)
    return plain, traced


# errno and return values of every hooked entry point
for tag in ("plain", "traced"):
    os.makedirs(s.path("errno-" + tag))
p, t = both("errno", lambda w: [ft.prog("ft_errno"), s.path("errno-" + w)],
            fix=lambda b: b.replace(s.path("errno-plain").encode(), b"DIR")
            .replace(s.path("errno-traced").encode(), b"DIR"))
s.check("errno: the program's own checks pass untraced", p.returncode == 0,
        p.stdout[-2000:])
s.check("errno: and traced", t.returncode == 0, t.stdout[-2000:])
s.check("errno: every hook exercised (> 150 calls)",
        p.stdout.count(b"\n") > 150)
ev = s.events()
kinds = {e["kind"] for e in ev}
s.check("errno: the traced run was recorded (%d events, %d kinds)" %
        (len(ev), len(kinds)), len(kinds) >= 15, sorted(kinds))
failed = [e for e in ev if e.get("result", 0) < 0]
s.check("errno: failures recorded with their errno",
        all(e.get("errno") for e in failed) and len(failed) > 40,
        len(failed))

# signal dispositions and masks
both("sigstate", [ft.prog("ft_sigstate")])
both("sigstate-inherited", ["sh", "-c", "trap '' PIPE INT HUP; exec \"$0\"",
                            ft.prog("ft_sigstate")])

# vfork children
os.makedirs(s.path("vf"))
p, t = both("vfork", [ft.prog("ft_vfork"), s.path("vf")])
s.check("vfork: the parent saw what it expects",
        b"unlink in child: 100, file gone 1, status 0" in t.stdout and
        b"child errno ENOENT" in t.stdout, t.stdout)
ev = s.events()
ex = [e for e in ev if e["kind"] == "exec" and e.get("result", -1) >= 0]
s.check("vfork: the vfork children's execs were recorded",
        {"/bin/sh", "/bin/true"} <= {e.get("path") for e in ex} or
        {"/usr/bin/sh", "/usr/bin/true"} <= {e.get("path") for e in ex},
        [e.get("path") for e in ex])
s.check("vfork: the unlink in a vfork child was recorded", any(
    e["kind"] == "unlink" and e.get("path") == s.path("vf", "vf")
    for e in ev))

# open fds: none leaked in, none taken away
both("fds", [ft.prog("ft_fds")],
     fix=lambda b: b)

# stdio and the terminal: an interactive program in tmux
tmux = shutil.which("tmux")
if not tmux:
    s.check("tmux installed (scripts/setup installs it)", False)
else:
    env = dict(s.env, TERM="xterm")

    def pane(cmd, keys, name):
        """Type cmd into an interactive bash in a fresh 80x24 tmux, then
        keys; the screen once the command is done, minus the command
        line itself.  An interactive shell, as a user has: a
        non-interactive sh quits with its child on ^C (bash's "wait and
        cooperative exit"); ctrace run dies of SIGINT/SIGQUIT itself
        when its command did (docs/capture.md step 7), but an
        interactive shell is what a user has in front of them."""
        sock = s.path("tmux-" + name)

        def tm(*a):
            return subprocess.run([tmux, "-S", sock, "-f", "/dev/null"] +
                                  list(a), env=env, capture_output=True,
                                  timeout=30)

        tm("new-session", "-d", "-x", "80", "-y", "24", "-s", "t",
           "env PS1='$ ' bash --norc --noprofile -i")
        out = b""
        for _ in range(100):
            if tm("capture-pane", "-p", "-t", "t").stdout.startswith(b"$"):
                break
            time.sleep(0.05)
        tm("send-keys", "-t", "t", "-l", cmd + '; echo "EXIT=$?"')
        tm("send-keys", "-t", "t", "Enter")
        for _ in range(200):
            out = tm("capture-pane", "-p", "-t", "t").stdout
            if b"q quits>" in out:
                break
            time.sleep(0.05)
        for k in keys:
            tm("send-keys", "-t", "t", k)
            time.sleep(0.1)
        for _ in range(200):
            out = tm("capture-pane", "-p", "-t", "t").stdout
            if b"EXIT=" in out:
                break
            time.sleep(0.05)
        tm("kill-server")
        return b"\n".join(line for line in out.split(b"\n")
                          if b'echo "EXIT' not in line)


    # short command lines: the screens must not differ by line wraps
    os.symlink(ft.prog("ft_tty"), s.path("p"))
    os.symlink(ft.CTRACE, s.path("c"))
    env["PATH"] = s.tmp + ":" + env.get("PATH", "/usr/bin:/bin")
    prog, traced = "p", "c run -q -- p"
    for name, keys in (("keys", ["a", "b", "Escape", "Enter", "q"]),
                       ("ctrl-c", ["x", "C-c"])):
        a = pane(prog, keys, name + "p")
        b = pane(traced, keys, name + "t")
        print(b.decode(errors="replace").rstrip())
        s.check("tty %s: the terminal shows the same with and without "
                "ctrace" % name, a == b and b"q quits>" in a,
                (a.decode(errors="replace"), b.decode(errors="replace")))
    s.check("tty: the program had the terminal in the foreground",
            b"foreground is us 1" in b and b"isatty 1 1 1" in b)
    s.check("tty: ^C killed it, and the shell gave up the command list "
            "as it does for a program killed by SIGINT", b"EXIT=" not in b)
s.finish()
