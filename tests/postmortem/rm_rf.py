#!/usr/bin/env python3
"""postmortem and stats on a real recorded session.

Under `ctrace run`, a shell deletes a tree of 10,000 files in 101 folders
with `rm -rf`, overwrites one file with `>` (open O_TRUNC) and then with a
rename over it, renames another onto a new name (not destroyed), fails to
open a missing file, and deletes a file whose name holds an escape
sequence.  Checks that
- postmortem --json lists each destroyed path once, under the `rm` whose
  chain starts at the session's shell, and collapses the 10,101 paths
  into one line "<p>/build/" (10,000 files, 101 dirs) with examples;
- the text view is a screenful, not 10,000 lines, and escapes the
  control characters;
- --path filters by glob, by directory prefix and by relative tail;
- stats --json counts the deletes, the paths and the ENOENT.

    rm_rf.py CTRACE
"""
import json
import os
import subprocess
import sys
import tempfile

NDIRS, PER_DIR = 100, 100
ESC = "evil\x1b[31m.txt"


def run(ctrace, env, *args, check=True):
    r = subprocess.run([ctrace] + list(args), env=env, capture_output=True)
    if check and r.returncode != 0:
        sys.exit(f"FAIL ctrace {' '.join(args)}: exit {r.returncode}: "
                 f"{r.stderr.decode(errors='replace')}")
    return r


def pm_json(ctrace, env, *args):
    return json.loads(run(ctrace, env, "postmortem", "--json", *args).stdout)


def main():
    ctrace = os.path.abspath(sys.argv[1])
    bad = []
    with tempfile.TemporaryDirectory(prefix="ct-pm-") as tmp:
        tmp = os.path.realpath(tmp)
        env = dict(os.environ, CTRACE_HOME=os.path.join(tmp, "store"),
                   HOME=tmp, NO_COLOR="1")
        env.pop("CTRACE_PAGER", None)
        p = os.path.join(tmp, "p")
        want = set()
        os.makedirs(os.path.join(p, "build"))
        want.add(os.path.join(p, "build"))
        for d in range(NDIRS):
            dd = os.path.join(p, "build", f"obj{d}")
            os.mkdir(dd)
            want.add(dd)
            for i in range(PER_DIR):
                f = os.path.join(dd, f"f{i}.o")
                open(f, "w").close()
                want.add(f)
        for name in ("keep.txt", "other.txt", ESC):
            with open(os.path.join(p, name), "w") as f:
                f.write("old\n")
        script = ("cd p && rm -rf build && echo new > keep.txt && "
                  "echo x > t && mv t keep.txt && mv other.txt fresh.txt && "
                  "{ cat missing 2>/dev/null; rm -f \"$ESC\"; }")
        r = subprocess.run([ctrace, "run", "--quiet", "--", "bash", "-c",
                            script], cwd=tmp, env=dict(env, ESC=ESC))
        if r.returncode != 0:
            sys.exit(f"FAIL the workload exited {r.returncode}")

        doc = pm_json(ctrace, env)
        groups = doc["groups"]
        rm = [g for g in groups if g["chain"][-1]["name"] == "rm" and
              any(x["path"].endswith("/f0.o") for x in g["paths"])]
        if len(rm) != 1:
            sys.exit(f"FAIL want one rm group, got {[g['chain'] for g in groups]}")
        g = rm[0]
        got = {x["path"] for x in g["paths"]}
        if got != want:
            bad.append(f"rm group: {len(got)} paths, want {len(want)}; "
                       f"missing {sorted(want - got)[:3]}, extra "
                       f"{sorted(got - want)[:3]}")
        if g["kinds"] != {"unlink": NDIRS * PER_DIR, "rmdir": NDIRS + 1}:
            bad.append(f"rm group kinds {g['kinds']}")
        if g["chain"][0]["name"] != "bash" or g["chain"][-1]["argv"] != \
                ["rm", "-rf", "build"]:
            bad.append(f"rm chain {g['chain']}")
        top = g["top"]
        if len(top) != 1 or top[0]["path"] != os.path.join(p, "build") + "/" \
                or top[0]["files"] != NDIRS * PER_DIR or \
                top[0]["dirs"] != NDIRS + 1 or not top[0]["examples"] or \
                not all(e.startswith(p + "/build/") for e in top[0]["examples"]):
            bad.append(f"rm group not collapsed into build/: {top}")

        allp = {}  # path -> kinds over all groups
        for gg in groups:
            for x in gg["paths"]:
                k = allp.setdefault(x["path"], {})
                for kind, n in x["kinds"].items():
                    k[kind] = k.get(kind, 0) + n
        keep = os.path.join(p, "keep.txt")
        if allp.get(keep) != {"open": 1, "rename": 1}:
            bad.append(f"keep.txt: {allp.get(keep)}, want truncated by open "
                       "and replaced by rename")
        for name in ("fresh.txt", "other.txt", "missing", "t"):
            if os.path.join(p, name) in allp:
                bad.append(f"{name} listed as destroyed")
        if allp.get(os.path.join(p, ESC)) != {"unlink": 1}:
            bad.append("the file with an escape sequence is not listed")
        # keep.txt counts once in each of its two commands' groups.
        if doc["totals"]["paths"] != len(want) + 3:
            bad.append(f"totals {doc['totals']}, want {len(want) + 3} paths")

        text = run(ctrace, env, "postmortem").stdout.decode()
        lines = text.splitlines()
        if len(lines) > 40:
            bad.append(f"text view has {len(lines)} lines")
        if f"{p}/build/  (10,000 files, 101 dirs)" not in text:
            bad.append("text view lacks the collapsed build/ line:\n" + text)
        if "\x1b" in text or "evil\\x1b[31m.txt" not in text:
            bad.append("text view does not escape the control character")
        full = run(ctrace, env, "postmortem", "--all").stdout.decode()
        if len(full.splitlines()) < len(want):
            bad.append("--all does not list every path")

        for glob, n in ((f"{p}/build", len(want)),
                        ("*/build/obj1*", 11 * (PER_DIR + 1)),
                        ("build/obj7/", PER_DIR + 1),
                        ("*.txt", 3),
                        (f"{p}/nothing", 0)):
            d = pm_json(ctrace, env, "--path", glob)
            if d["totals"]["paths"] != n:
                bad.append(f"--path {glob}: {d['totals']['paths']} paths, "
                           f"want {n}")
        if run(ctrace, env, "postmortem", "--path", check=False).returncode != 2:
            bad.append("--path without a glob does not exit 2")

        st = json.loads(run(ctrace, env, "stats", "--json").stdout)
        if st["kinds"]["unlink"]["events"] < NDIRS * PER_DIR + 1 or \
                st["kinds"]["rmdir"]["events"] != NDIRS + 1:
            bad.append(f"stats kinds {st['kinds']}")
        if not any(e["errno"] == "ENOENT" for e in st["errors"]["by_errno"]):
            bad.append(f"stats errors {st['errors']}")
        if not any(e["kind"] == "open" and e["errno"] == "ENOENT"
                   for e in st["errors"]["by_kind"]):
            bad.append("stats has no open ENOENT")
        if {"opened", "written", "deleted"} - set(st["top_paths"]) or \
                len(st["top_paths"]["deleted"]) != 10:
            bad.append(f"stats top paths {st['top_paths'].keys()}")
        if keep not in {x["path"] for x in st["top_paths"]["written"]}:
            bad.append("stats: keep.txt not among the written paths")
        rmexe = [e for e in st["executables"] if e["exe"].endswith("/rm")]
        if not rmexe or rmexe[0]["events"] < NDIRS * PER_DIR:
            bad.append(f"stats executables {st['executables']}")
        if st["top_processes"][0]["argv"] != ["rm", "-rf", "build"]:
            bad.append(f"stats top process {st['top_processes'][0]}")
        stext = run(ctrace, env, "stats", "--top", "3").stdout.decode()
        for want_s in ("events by kind", "unlink", "ENOENT", "rm -rf build"):
            if want_s not in stext:
                bad.append(f"stats text lacks {want_s!r}")
        if "\x1b" in stext:
            bad.append("stats text holds a raw escape")
    if bad:
        print("FAIL postmortem/stats on rm -rf of 10,000 files")
        for b in bad:
            print("  " + b)
        return 1
    print(f"ok postmortem: {len(want)} paths of rm -rf in one group, "
          f"collapsed to {top[0]['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
