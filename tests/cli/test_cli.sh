#!/usr/bin/env bash
# The ctrace command line: every command in --help, every command answers
# -h, unknown commands/options and bad arguments exit 2 with a hint, an
# empty store reads as empty, unavailable commands say so.  With the shim
# built, also a real `ctrace run` read back through the views.
set -euo pipefail

CTRACE=${CT_BUILD:?set CT_BUILD to the build folder}/ctrace
if [[ ! -x $CTRACE ]]; then
	echo "skip: $CTRACE not built" >&2
	exit 77
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ct-test-cli-XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export CTRACE_HOME=$TMP/store HOME=$TMP/home NO_COLOR=1 TZ=UTC
unset XDG_DATA_HOME CTRACE_PAGER PAGER
mkdir -p "$CTRACE_HOME" "$HOME"

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# run_ct EXPECTED_RC ARGS...: runs ctrace, leaves stdout in $OUT and stderr
# in $ERR, checks the exit status.
run_ct() {
	local want=$1 rc=0
	shift
	"$CTRACE" "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	if [[ $rc != "$want" ]]; then
		fail "ctrace $* exited $rc, want $want (stderr: $ERR)"
		return 1
	fi
}

expect() { # expect HAYSTACK NEEDLE WHAT
	if [[ $1 != *"$2"* ]]; then
		fail "$3: '$2' not in: $1"
	fi
}

SPEC_COMMANDS=(run sessions show timeline tree why graph postmortem inspect
	audit export stats rules demo)
SESSION_CMDS=(show timeline export postmortem stats tree graph inspect audit)

# --- help and version ---
for args in "" "--help" "-h"; do
	# shellcheck disable=SC2086
	run_ct 0 $args || continue
	for c in "${SPEC_COMMANDS[@]}"; do
		expect "$OUT" "  $c " "ctrace $args lists $c"
	done
done
run_ct 0 --version && [[ $OUT == "ctrace 0.1.0" ]] ||
	fail "--version printed '$OUT'"

for c in "${SPEC_COMMANDS[@]}"; do
	for h in -h --help; do
		run_ct 0 "$c" "$h" || continue
		expect "$OUT" "usage: ctrace $c" "ctrace $c $h"
	done
done
run_ct 0 timeline latest --kind open -h
run_ct 0 help export && expect "$OUT" "usage: ctrace export" "help export"

# --- unknown commands and options ---
run_ct 2 frobnicate && {
	expect "$ERR" "ctrace: 'frobnicate' is not a ctrace command (see 'ctrace --help')" "unknown command"
	[[ $ERR != *"did you mean"* ]] || fail "no suggestion expected: $ERR"
}
run_ct 2 sesions && expect "$ERR" "did you mean 'ctrace sessions'" "suggestion"
run_ct 2 tre && expect "$ERR" "did you mean 'ctrace tree'" "suggestion"
run_ct 2 --frob && expect "$ERR" "unknown option '--frob'" "global option"

for c in sessions "${SESSION_CMDS[@]}"; do
	run_ct 2 "$c" --no-such-option || continue
	expect "$ERR" "ctrace $c: unknown option '--no-such-option'" "$c option"
	expect "$ERR" "usage: ctrace $c" "$c usage hint"
	[[ -z $OUT ]] || fail "$c printed on stdout: $OUT"
	run_ct 2 "$c" -Z && expect "$ERR" "unknown option '-Z'" "$c -Z"
done
run_ct 2 sessions --limit && expect "$ERR" "option '--limit' needs a value" "missing value"
run_ct 2 sessions --limit many && expect "$ERR" "--limit needs a count" "bad --limit"
run_ct 2 sessions --json=yes && expect "$ERR" "option '--json' takes no value" "--json=yes"
run_ct 2 sessions extra && expect "$ERR" "unexpected argument 'extra'" "sessions extra"
run_ct 2 show a b && expect "$ERR" "unexpected argument 'b'" "show a b"
run_ct 2 timeline --kind open,bogus &&
	expect "$ERR" "unknown kind 'bogus'; valid kinds: start, exec, spawn, fork, exit, open" "bad kind"
run_ct 2 timeline --since yesterday && expect "$ERR" "--since needs" "bad --since"
run_ct 2 timeline --pid -3 && expect "$ERR" "--pid needs" "bad --pid"
run_ct 2 export --format xml && expect "$ERR" "unknown format 'xml'" "bad format"

# --- empty store ---
run_ct 0 sessions --json && [[ $OUT == "[]" ]] || fail "sessions --json on empty store: '$OUT'"
run_ct 0 sessions && [[ -z $OUT ]] || fail "sessions on empty store: '$OUT'"
for c in "${SESSION_CMDS[@]}"; do
	run_ct 2 "$c" &&
		expect "$ERR" "no sessions recorded yet in $CTRACE_HOME (run 'ctrace run -- CMD' first)" "$c on empty store"
	run_ct 2 "$c" 0123abcd || true
done
[[ -z $(ls -A "$CTRACE_HOME") ]] || fail "read-only commands created files in the store"
# A fresh HOME without CTRACE_HOME: the XDG default, still read-only.
(
	unset CTRACE_HOME
	run_ct 0 sessions --json && [[ $OUT == "[]" ]] || fail "default store: '$OUT'"
	run_ct 2 show && expect "$ERR" "$HOME/.local/share/ctrace" "default store dir"
)

# --- a real session, when the shim is built ---
if [[ -e $CT_BUILD/libctrace-preload.so ]] && command -v jq >/dev/null; then
	W=$TMP/work
	mkdir -p "$W"
	# A file name with a newline in it, renamed, deleted; a failed open.
	run_ct 3 run --quiet -- sh -c 'cd "$1" && echo hi >"a
b" && mv "a
b" c && rm c; cat /nonexistent 2>/dev/null; exit 3' sh "$W" || true
	run_ct 0 run --quiet -- true || true
	run_ct 0 sessions --json
	[[ $(jq length <<<"$OUT") == 2 ]] || fail "sessions --json after two runs: $OUT"
	id=$(jq -r '.[1].id' <<<"$OUT")
	run_ct 0 sessions --limit 1 && {
		[[ $(wc -l <<<"$OUT") == 2 ]] || fail "sessions --limit 1: $OUT"
		expect "$OUT" " true" "newest first"
	}
	run_ct 0 show "${id:0:12}" && {
		expect "$OUT" "session    $id" "show by prefix"
		expect "$OUT" "exit       3" "show exit"
	}
	run_ct 0 timeline "$id" --kind rename,unlink && {
		expect "$OUT" "rename   $W/a\\nb -> $W/c = 0" "timeline rename"
		expect "$OUT" "unlink   $W/c = 0" "timeline unlink"
	}
	run_ct 0 timeline "$id" --kind open &&
		expect "$OUT" "/nonexistent O_RDONLY = -1 ENOENT" "failed open"
	run_ct 0 export "$id" --format ndjson -o "$TMP/x.ndjson"
	jq -e -s --arg w "$W" 'map(select(.kind == "rename"))[0] |
		.path == ($w + "/a\nb") and .path2 == ($w + "/c") and
		.result == 0 and (.proc | test("^[0-9]+\\.[0-9]+$"))' \
		"$TMP/x.ndjson" >/dev/null || fail "ndjson rename event"
	run_ct 0 export "$id" --format json && {
		jq -e '.session.exit_code == 3 and (.processes | length) >= 2 and
			(.events | length) == .session.events and
			([.processes[] | select(has("parent") | not)] | length) == 1' \
			<<<"$OUT" >/dev/null || fail "json export document: $OUT"
	}
else
	echo "note: shim or jq missing; skipped the checks on a real run" >&2
fi

if ((fails)); then
	echo "$fails check(s) failed" >&2
	exit 1
fi
echo "ok"
