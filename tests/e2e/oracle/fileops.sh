#!/bin/bash
# Oracle workload: coreutils, find, tar and sed in the current folder.
set -eu
mkdir -p a/b/c
echo one >a/f1
cp a/f1 a/b/f2
mv a/b/f2 a/b/c/f3
ln a/f1 a/hard
ln -s ../f1 a/b/sym
chmod 600 a/f1
cat a/b/sym >/dev/null
sed -i 's/one/two/' a/f1 # writes a temp file, renames it over a/f1
mkdir t
touch t/x.tmp t/y.tmp t/keep
find t -name '*.tmp' -delete
tar cf arch.tar a
mkdir out
tar xf arch.tar -C out
cd out
ls -R >../listing
cd ..
rm -rf out a
rm -f arch.tar does-not-exist
mkdir t 2>/dev/null || true # fails: EEXIST
rmdir t 2>/dev/null || true # fails: ENOTEMPTY
rm -r t
