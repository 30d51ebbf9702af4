#!/usr/bin/env bash
# Every view under valgrind memcheck, on a session recorded from a real
# workload: no invalid access, no use of uninitialised memory, no leak.
set -uo pipefail
ct=${CT_BUILD:?}/ctrace
command -v valgrind >/dev/null || { echo "SKIP: valgrind is not installed"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export CTRACE_HOME=$T/store HOME=$T/home NO_COLOR=1 PAGER=cat
mkdir -p "$HOME" "$T/w"
cd "$T/w"
"$ct" run --quiet --name mc -- sh -c '
  mkdir -p d/e; echo a > d/a; cp d/a d/b; mv d/b d/c; ln -s c d/l
  printf x > "$(printf "d/ctl\033[31m")"; cat d/a >/dev/null
  rm -rf d; ls /nonexistent 2>/dev/null; true' || exit 1
seq=$("$ct" export --format ndjson | python3 -c '
import json,sys
print(next(e["seq"] for e in map(json.loads, sys.stdin) if e["kind"] == "unlink"))')
fails=0 passes=0
vg() {
  if valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
      "$ct" "$@" >/dev/null 2>"$T/vg.err"; then
    passes=$((passes + 1)); echo "ok   memcheck ctrace $*"
  else
    fails=$((fails + 1)); echo "FAIL memcheck ctrace $*"; tail -30 "$T/vg.err"
  fi
}
vg sessions; vg sessions --json; vg show; vg show --json
vg timeline; vg timeline --json; vg tree; vg tree --events; vg tree --json
vg why "$seq"; vg why "$seq" --json; vg graph; vg graph --dot; vg graph --json
vg postmortem; vg postmortem --json; vg stats; vg stats --json
vg inspect; vg inspect --json; vg audit --format json; vg audit --format sarif
vg export --format json; vg export --format ndjson; vg rules list
echo "$passes passed, $fails failed"
test $fails = 0
