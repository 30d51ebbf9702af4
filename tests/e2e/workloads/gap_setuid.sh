# One untraced program is one gap: a setuid binary (the loader drops
# LD_PRELOAD) gets the shim's exec-time gap and no second "never checked
# in" gap from the collector.  Needs root to chown a copy of id(1).
T=$1
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: not root: cannot make a setuid binary owned by nobody"
  exit 77
fi
cd "$T"
mkdir suid
cp /usr/bin/id suid/id
chown nobody suid/id
chmod u+s suid/id
exe=$T/suid/id
"$exe" -u > uid.txt &
pid=$!
wait $pid || exit 1
if [ "$(cat uid.txt)" != "$(id -u nobody)" ]; then
  echo "SKIP: setuid bit not honoured here (nosuid mount?)"
  exit 77
fi
cat <<JSON
{"kind":"exec","pid":$pid,"exe":"$exe","result":0}
{"kind":"gap","pid":$pid,"count":1}
{"kind":"gap","pid":$pid,"exe":"$exe","reason":"setuid binary: the loader drops LD_PRELOAD","count":1}
{"kind":"start","pid":$pid,"absent":true}
{"kind":"gap","count":1}
JSON
