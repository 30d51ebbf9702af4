# rm -rf of a tree from a nested shell: every file and folder, with lineage.
set -e
T=$1
mkdir -p "$T/tree/a/b" "$T/tree/c"
for f in a/1 a/2 a/b/3 c/4 5; do echo x > "$T/tree/$f"; done
cd "$T"
bash -c 'rm -rf tree'
for f in a/1 a/2 a/b/3 c/4 5; do
  echo "{\"kind\":\"unlink\",\"path\":\"$T/tree/$f\",\"result\":0,\"chain\":[\"bash\",\"rm\"],\"count\":1}"
done
for d in a/b a c; do
  echo "{\"kind\":\"rmdir\",\"path\":\"$T/tree/$d\",\"result\":0,\"argv0\":\"rm\",\"count\":1}"
done
echo "{\"kind\":\"rmdir\",\"path\":\"$T/tree\",\"result\":0,\"argv0\":\"rm\"}"
echo "{\"kind\":\"exec\",\"argv\":[\"rm\",\"-rf\",\"tree\"],\"exe\":\"/usr/bin/rm\",\"count\":1}"
