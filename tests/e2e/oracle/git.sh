#!/bin/bash
# Oracle workload: git init/add/commit in a fresh repository.
set -eu
export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=oracle GIT_COMMITTER_NAME=oracle
export GIT_AUTHOR_EMAIL=o@example.com GIT_COMMITTER_EMAIL=o@example.com
git init -q repo
cd repo
echo hello >README
mkdir src
echo 'int x;' >src/x.c
git add README src
git commit -q -m first
echo more >>README
git commit -q -am second
git log --oneline >/dev/null
git status --short >/dev/null
