# One untraced program is one gap: a static binary exec'd with
# CTRACE_STATIC=0 gets the shim's exec-time gap, and the collector must
# not add its own "never checked in" gap for the same exec.
T=$1
exe=${CT_BUILD:-}/tests/e2e/e2e_hello_static
if [ ! -x "$exe" ]; then
  echo "SKIP: $exe not built"
  exit 77
fi
cd "$T"
CTRACE_STATIC=0 "$exe" &
pid=$!
wait $pid || exit 1
# The same binary covered by the supervisor: no gap at all.
"$exe" &
pid2=$!
wait $pid2 || exit 1
cat <<JSON
{"kind":"exec","pid":$pid,"exe":"$exe","result":0}
{"kind":"gap","pid":$pid,"count":1}
{"kind":"gap","pid":$pid,"exe":"$exe","reason":"static binary: not covered (CTRACE_STATIC=0)","count":1}
{"kind":"start","pid":$pid,"absent":true}
{"kind":"exit","pid":$pid,"exit_code":0}
{"kind":"gap","pid":$pid2,"absent":true}
{"kind":"gap","count":1}
JSON
