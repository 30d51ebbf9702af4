# coreutils file operations, relative paths resolved against the cwd.
set -e
T=$1
cd "$T"
mkdir sub
echo hi > sub/a
cp sub/a sub/b
mv sub/b sub/c
ln sub/c sub/hard
ln -s c sub/soft
chmod 600 sub/a
truncate -s 0 sub/a   # coreutils: open + ftruncate, not truncate(2)
touch sub/new
rm sub/hard sub/soft
cat <<JSON
{"kind":"mkdir","path":"$T/sub","result":0,"argv0":"mkdir"}
{"kind":"open","path":"$T/sub/a","flags~":"O_TRUNC","argv0":"bash"}
{"kind":"open","path":"$T/sub/b","flags~":"O_CREAT","argv0":"cp"}
{"kind":"rename","path":"$T/sub/b","path2":"$T/sub/c","result":0,"argv0":"mv"}
{"kind":"link","path":"$T/sub/c","path2":"$T/sub/hard","result":0,"argv0":"ln"}
{"kind":"symlink","path":"$T/sub/c","path2":"$T/sub/soft","result":0,"argv0":"ln"}
{"kind":"chmod","path":"$T/sub/a","result":0,"argv0":"chmod"}
{"kind":"open","path":"$T/sub/a","flags~":"O_WRONLY","argv0":"truncate"}
{"kind":"open","path":"$T/sub/new","flags~":"O_CREAT","argv0":"touch"}
{"kind":"unlink","path":"$T/sub/hard","result":0,"argv0":"rm"}
{"kind":"unlink","path":"$T/sub/soft","result":0,"argv0":"rm"}
{"kind":"open","path":"$T/missing","errno":"ENOENT","absent":true}
JSON
