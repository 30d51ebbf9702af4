#!/usr/bin/env bash
# ctrace run as a user sees it: exit statuses, signals, the summary, bad
# options, concurrent runs on one store, and recovery after ctrace run dies.
set -uo pipefail
ct=${CT_BUILD:?}/ctrace
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export CTRACE_HOME=$T/store HOME=$T/home
mkdir -p "$HOME"
fails=0 passes=0
ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

"$ct" run --quiet -- sh -c 'exit 7'; rc=$?
check "exit status passes through (7)" test $rc = 7
"$ct" run --quiet -- sh -c 'kill -9 $$'; rc=$?
check "SIGKILL gives 137" test $rc = 137
"$ct" run --quiet -- sh -c 'kill -TERM $$'; rc=$?
check "SIGTERM gives 143" test $rc = 143
# The command killed by signal N: ctrace run exits 128+N, except for
# SIGINT and SIGQUIT, which kill ctrace itself so a shell gives up a loop
# on ^C (docs/capture.md step 7).  The command resets the disposition: a
# signal ignored by whoever started this test stays ignored for it.
suicide='import os, signal, sys
s = getattr(signal, sys.argv[1])
signal.signal(s, signal.SIG_DFL)
os.kill(os.getpid(), s)'
# ctrace run's exit status as its parent sees it: N, or -N when it was
# killed by signal N.
run_status() {
  python3 -c 'import subprocess, sys
print(subprocess.run(sys.argv[1:]).returncode)' \
    "$ct" run --quiet -- python3 -c "$suicide" "$1"
}
"$ct" run --quiet -- python3 -c "$suicide" SIGINT; rc=$?
check "SIGINT: \$? 130 in a shell" test $rc = 130
check "SIGINT: ctrace run dies of SIGINT" test "$(run_status SIGINT)" = -2
check "SIGQUIT: ctrace run dies of SIGQUIT" test "$(run_status SIGQUIT)" = -3
"$ct" run --quiet -- python3 -c "$suicide" SIGTERM; rc=$?
check "SIGTERM: exit 143" test $rc = 143
check "SIGTERM: ctrace run exits 143, is not killed" \
  test "$(run_status SIGTERM)" = 143
"$ct" run --quiet -- python3 -c "$suicide" SIGHUP; rc=$?
check "SIGHUP: exit 129" test $rc = 129
check "SIGHUP: ctrace run exits 129, is not killed" \
  test "$(run_status SIGHUP)" = 129

"$ct" run --quiet -- /nonexistent/prog 2>"$T/err"; rc=$?
check "missing program gives 127" test $rc = 127
check "missing program says why" grep -q "cannot run '/nonexistent/prog'" "$T/err"

out=$("$ct" run -- true 2>&1 >/dev/null)
check "summary on stderr" grep -q "ctrace: session [0-9a-f]\{12\}: .* events, .* lost" <<<"$out"
out=$("$ct" run --quiet -- true 2>&1)
check "--quiet drops the summary" test -z "$out"
out=$("$ct" run -- sh -c 'echo to-stdout; echo to-stderr >&2' 2>/dev/null)
check "stdout untouched" test "$out" = to-stdout

"$ct" run --ring-mib 0 -- true 2>"$T/err"; rc=$?
check "--ring-mib 0 is a usage error" test $rc = 2
check "--ring-mib error names the option" grep -q -- "--ring-mib" "$T/err"
"$ct" run --bogus -- true 2>"$T/err"; rc=$?
check "unknown option exits 2" test $rc = 2
"$ct" run 2>"$T/err"; rc=$?
check "no command exits 2" test $rc = 2

# The command's own options are not ctrace's.
out=$("$ct" run --quiet -- sh -c 'echo "$1"' sh --quiet)
check "options after the command belong to it" test "$out" = --quiet
out=$("$ct" run --quiet sh -c 'echo "$0"' -h)
check "without --, -h after the command is the command's" test "$out" = -h

# --ring-mib N sizes the ring: N MiB rounded up to a power of two, plus
# its 4 KiB header page, seen in /dev/shm while the traced sleep runs.
ring_size() {
  local name=ring$RANDOM id= sz=
  "$ct" run --quiet --name "$name" "$@" -- sleep 2 &
  local pid=$!
  for _ in $(seq 100); do
    id=$("$ct" sessions --json | python3 -c "
import json,sys
print(''.join(s['id'] for s in json.load(sys.stdin) if s.get('name')=='$name'))")
    if [[ -n $id ]]; then
      sz=$(stat -c %s "/dev/shm/ctrace-$(id -u)-$id" 2>/dev/null) && break
    fi
    sleep 0.05
  done
  wait $pid
  echo "$sz"
}
check "--ring-mib 3 gives a 4 MiB ring" \
  test "$(ring_size --ring-mib 3)" = $((4096 + (4 << 20)))
check "--ring-mib 16 gives a 16 MiB ring" \
  test "$(ring_size --ring-mib 16)" = $((4096 + (16 << 20)))
check "the default ring is 64 MiB" test "$(ring_size)" = $((4096 + (64 << 20)))

# Git branch and commit of the repository the command runs in (from a
# folder below its top, with the refs packed), none outside one.
g() { git -C "$T/repo" -c user.name=t -c user.email=t@example.com "$@"; }
mkdir -p "$T/repo/src/deep"
g init -q && g commit -q --allow-empty -m one && g checkout -q -b ct/topic &&
  g commit -q --allow-empty -m two && g pack-refs --all
head=$(g rev-parse HEAD)
(cd "$T/repo/src/deep" && "$ct" run --quiet --name git -- true)
check "git branch and commit recorded" python3 -c '
import json, sys
s = json.load(sys.stdin)["session"]
assert s["git_branch"] == "ct/topic" and s["git_commit"] == sys.argv[1], s
' "$head" < <("$ct" export --format json)
check "show prints branch and commit" \
  grep -q "^git  *ct/topic @ $head$" < <(PAGER=cat "$ct" show latest)
if ! git -C "$T" rev-parse 2>/dev/null; then
  (cd "$T" && "$ct" run --quiet --name nogit -- true)
  check "no git fields outside a repository" python3 -c '
import json, sys
s = json.load(sys.stdin)["session"]
assert "git_branch" not in s and "git_commit" not in s, s
' < <("$ct" export --format json)
fi

# SESSION as a prefix: a unique one works, one shared by two sessions
# exits 2 and says so.  Ids start with the second they were made in, so
# sessions made seconds apart share a long prefix.
ids=$("$ct" sessions --json | python3 -c '
import json, os, sys
ids = [s["id"] for s in json.load(sys.stdin)]
print(max((os.path.commonprefix([a, b]) for a in ids for b in ids
           if a != b), key=len), ids[0][:12], ids[0])')
read -r amb uniq full <<<"$ids"
out=$("$ct" show --json "$uniq" 2>&1)
check "unique prefix $uniq names its session" grep -q "\"$full\"" <<<"$out"
"$ct" show "$amb" >/dev/null 2>"$T/err"; rc=$?
check "ambiguous prefix $amb exits 2" test $rc = 2
check "ambiguous prefix says so" grep -q "session prefix '$amb' is ambiguous" "$T/err"

# SIGTERM aimed at ctrace run reaches the command, the session completes.
"$ct" run --quiet --name term -- sh -c 'trap "echo got-term; exit 3" TERM; while :; do sleep 0.05; done' >"$T/term.out" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid; rc=$?
check "SIGTERM forwarded (command's trap ran)" grep -q got-term "$T/term.out"
check "status of the command after SIGTERM (3)" test $rc = 3
"$ct" show --json latest >"$T/show.json" 2>&1
check "terminated session is finished" python3 -c '
import json,sys; s=json.load(open(sys.argv[1])); s=s.get("session", s)
assert s["exit_code"] == 3, s' "$T/show.json"

# Four concurrent runs on one store all succeed and are all recorded.
pids=()
for i in 1 2 3 4; do
  "$ct" run --quiet --name "c$i" -- sh -c "for j in \$(seq 50); do echo x > $T/f$i.\$j; rm $T/f$i.\$j; done" &
  pids+=($!)
done
for i in 1 2 3 4; do
  wait "${pids[i - 1]}"; rc=$?
  check "concurrent run c$i exits 0" test $rc = 0
done
n=$("$ct" sessions --json | python3 -c '
import json,sys; print(sum(1 for s in json.load(sys.stdin) if (s.get("name") or "").startswith("c")))')
check "4 concurrent runs recorded" test "$n" = 4
for i in 1 2 3 4; do
  id=$("$ct" sessions --json | python3 -c "
import json,sys; print([s['id'] for s in json.load(sys.stdin) if s.get('name')=='c$i'][0])")
  u=$("$ct" export "$id" --format ndjson | grep -c '"kind": *"unlink"')
  check "concurrent run c$i has its 50 unlinks" test "$u" = 50
done

# ctrace run killed: the command keeps running, the next ctrace command
# recovers what the ring held.
"$ct" run --quiet --name killed -- sh -c "sleep 0.5; echo survived > $T/survivor; rm -f $T/nothing; sleep 0.5" &
pid=$!
sleep 0.2
kill -9 $pid
sleep 1.5
check "traced program survived ctrace run's death" test -s "$T/survivor"
"$ct" sessions >/dev/null 2>"$T/rec.err"
id=$("$ct" sessions --json | python3 -c "
import json,sys; print([s['id'] for s in json.load(sys.stdin) if s.get('name')=='killed'][0])")
check "recovery reported" grep -q "recovered" "$T/rec.err"
check "recovered events include the survivor's write" \
  sh -c "'$ct' export $id --format ndjson | grep -q '$T/survivor'"
check "no ring left behind" sh -c "! ls /dev/shm/ctrace-$(id -u)-$id 2>/dev/null"

# A ring whose ctrace run died and whose store is gone (a deleted temporary
# CTRACE_HOME) is removed by the next ctrace command of any store; a dead
# run's ring whose store still exists is left for that store.
for k in gone kept; do
  CTRACE_HOME=$T/store-$k "$ct" run --quiet --name $k -- sleep 2 &
  pid=$!
  sleep 0.3
  kill -9 $pid
  wait $pid 2>/dev/null
done
gone=$(ls -t /dev/shm/ctrace-$(id -u)-* 2>/dev/null | while read -r f; do
  grep -qa "$T/store-gone" "$f" && echo "$f"; done | head -1)
kept=$(ls -t /dev/shm/ctrace-$(id -u)-* 2>/dev/null | while read -r f; do
  grep -qa "$T/store-kept" "$f" && echo "$f"; done | head -1)
check "killed runs left their rings" test -n "$gone" -a -n "$kept"
rm -rf "$T/store-gone"
"$ct" sessions >/dev/null 2>&1
check "a dead run's ring of a deleted store is removed" test ! -e "$gone"
check "a dead run's ring of another live store is kept" test -e "$kept"
CTRACE_HOME=$T/store-kept "$ct" sessions >/dev/null 2>&1
check "which that store then recovers" test ! -e "$kept"

# valgrind runs the program on its own thread: the shim must not arm
# Syscall User Dispatch there (valgrind's own syscalls would trap and kill
# it), and says so in a gap; the program runs as it does without ctrace.
if command -v valgrind >/dev/null; then
  out=$("$ct" run --quiet --name vg -- valgrind -q --tool=none \
    sh -c "echo under-valgrind > $T/vg.out; cat $T/vg.out" 2>&1); rc=$?
  check "a program under valgrind runs (exit 0)" test $rc = 0
  check "and prints what it prints without ctrace" \
    grep -qx under-valgrind <<<"$out"
  check "the gap says raw syscalls are off under valgrind" sh -c \
    "'$ct' export latest --format ndjson | grep -q 'running under valgrind'"
  check "its write is still recorded by the hooks" sh -c \
    "'$ct' export latest --format ndjson | grep -q '$T/vg.out'"
else
  echo "skip valgrind checks: valgrind not installed (scripts/setup installs it)"
fi

# The demo runs for real and shows its timeline, tree and postmortem.
out=$(PAGER=cat "$ct" demo 2>&1); rc=$?
check "demo exits 0" test $rc = 0
check "demo shows timeline, tree, postmortem in that order" python3 -c '
import sys
t = sys.stdin.read()
i = [t.find("(ctrace " + w) for w in ("timeline", "tree", "postmortem")]
assert -1 < i[0] < i[1] < i[2], i' <<<"$out"
check "demo's timeline has the rm's deletion" \
  grep -q "^+[0-9.]* *[0-9]*\.1 *rm  *unlink  */.*/project/build/main.o = 0$" <<<"$out"
check "demo's timeline has the rename" \
  grep -q "^+[0-9.]* *[0-9]*\.1 *mv  *rename  */.*/project/NOTES.tmp -> .*/NOTES.md = 0$" <<<"$out"
check "demo shows the tree" grep -q -- "-- .*rm -rf project/build  \[exit 0" <<<"$out"
check "demo's postmortem charges the delete to rm -rf" grep -q "sh -> rm -rf project/build" <<<"$out"
check "demo's postmortem lists the deleted file" grep -q "project/build/main.o  unlink" <<<"$out"

# show lists each process's capture tier, those without raw capture first
# even when more processes than it lists ran; --all lists every one.  The
# subshell (exit 3) is a fork that runs its parent's image and capture.
"$ct" run --quiet --name tiers -- sh -c 'for i in $(seq 24); do /bin/true; done; (exit 3); CTRACE_SUD=0 /bin/true'
out=$(PAGER=cat "$ct" show latest)
check "show lists the process without raw capture" \
  grep -q "^  [0-9]*\.1 *libc only *.*/true$" <<<"$out"
check "show caps the list and says how to see all" \
  grep -q "^  \.\.\. and 8 more (ctrace show --all)$" <<<"$out"
check "show says how many were covered" \
  grep -q "captured in 27 of 28 traced processes" <<<"$out"
out=$(PAGER=cat "$ct" show --all latest)
check "show --all lists every traced process" \
  test "$(grep -c "^  [0-9]*\.1  *\(raw+libc\|libc only\)" <<<"$out")" = 28
check "show lists the forked subshell with its parent's capture" \
  test "$(grep -c "^  [0-9]*\.1  *raw+libc .*/dash$" <<<"$out")" = 2
check "show --json has every process's capture" python3 -c '
import json, sys
c = json.load(sys.stdin)["capture"]
tiers = sorted(p["capture"] for p in c)
assert len(c) == 28 and tiers.count("libc only") == 1, tiers
assert [p["exe"] for p in c if p["capture"] == "libc only"] == ["/usr/bin/true"]
' < <("$ct" show --json latest)

# A store that cannot be used: exit 2 before anything runs, one line on
# stderr naming the store and how to get past it.
store_fails() {
  local what=$1 home=$2
  for cmd in sessions show run; do
    local args=("$cmd")
    [[ $cmd = run ]] && args=(run --quiet -- touch "$T/ran")
    rm -f "$T/ran"
    CTRACE_HOME=$home "$ct" "${args[@]}" >"$T/out" 2>"$T/err"; rc=$?
    check "$what: $cmd exits 2" test $rc = 2
    check "$what: $cmd says it in one line naming $home and a fix" \
      sh -c "test \"\$(wc -l <'$T/err')\" = 1 && test ! -s '$T/out' &&
             grep -qF '$home' '$T/err' && grep -q 'set CTRACE_HOME to' '$T/err'"
  done
  check "$what: run did not start the command" test ! -e "$T/ran"
}
mkdir "$T/corrupt"
head -c 65536 /dev/urandom >"$T/corrupt/data.mdb"
store_fails "corrupt store" "$T/corrupt"
: >"$T/plainfile"
store_fails "store under a regular file" "$T/plainfile/store"
if [[ $(id -u) != 0 ]]; then
  # (root writes through any mode: the regular file above stands in)
  CTRACE_HOME=$T/ro "$ct" run --quiet -- true
  chmod 0400 "$T/ro"/*.mdb && chmod 0500 "$T/ro"
  store_fails "read-only store" "$T/ro"
  mkdir -m 0500 "$T/rodir"
  CTRACE_HOME=$T/rodir/store "$ct" run --quiet -- true 2>"$T/err"; rc=$?
  check "store below a read-only folder: run exits 2" test $rc = 2
  check "store below a read-only folder: run names it and a fix" \
    grep -q "^ctrace: cannot open store $T/rodir/store: .*set CTRACE_HOME to" "$T/err"
  chmod 0700 "$T/ro" "$T/rodir"
fi

# An installed ctrace finds its shim relative to its own executable.
if cmake --install "$CT_BUILD" --prefix "$T/inst" >/dev/null 2>&1; then
  out=$(cd "$T" && "$T/inst/bin/ctrace" run --quiet --name inst -- sh -c "echo i > $T/inst.txt" && "$T/inst/bin/ctrace" export --format ndjson)
  check "installed ctrace records through its installed shim" grep -q "$T/inst.txt" <<<"$out"
  check "installed shim is not the build tree's" sh -c "ls '$T'/inst/lib*/ctrace/libctrace-preload.so >/dev/null 2>&1 || ls '$T'/inst/lib/*/ctrace/libctrace-preload.so >/dev/null"
else
  bad "cmake --install failed"
fi

echo "$passes passed, $fails failed"
test $fails = 0
