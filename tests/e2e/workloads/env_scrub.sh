# Programs that drop LD_PRELOAD and CTRACE_* still have their children traced.
set -e
T=$1
cd "$T"
env -i /bin/sh -c 'echo x > scrubbed; rm scrubbed'
env -u LD_PRELOAD /bin/sh -c 'mkdir nopreload; rmdir nopreload'
cat <<JSON
{"kind":"unlink","path":"$T/scrubbed","result":0,"argv0":"rm","chain":["bash","sh","rm"]}
{"kind":"rmdir","path":"$T/nopreload","result":0,"argv0":"rmdir","chain":["bash","sh","rmdir"]}
JSON
