"""What every analyzer test script shares: checks that record their
failures and go on, the exit status they add up to, and a ctrace with its
own store, no colour and no pager."""
import os
import subprocess

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def finish():
    """The script's exit status: 1 when a check failed, else 0."""
    if failures:
        print(f"{len(failures)} checks failed")
        return 1
    print("ok")
    return 0


def ctrace_env(store, home):
    """The environment of a ctrace with its store in store: HOME home, no
    colour, no pager."""
    env = dict(os.environ, CTRACE_HOME=store, HOME=home, NO_COLOR="1")
    env.pop("CTRACE_PAGER", None)
    return env


def ctrace_runner(ctrace, env, cwd):
    """ct(*args, code=0): run ctrace ARGS in cwd, check its exit status."""
    def ct(*args, code=0, env=env):
        r = subprocess.run([ctrace] + list(args), env=env, cwd=cwd,
                           capture_output=True, text=True, errors="replace")
        check(r.returncode == code,
              f"ctrace {' '.join(args)}: exit {r.returncode} != {code}"
              f" ({r.stderr.strip()[-500:]})")
        return r
    return ct
