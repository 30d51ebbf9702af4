#!/bin/bash
# Oracle workload: copy the Makefile project in, make -j2, run, make clean.
set -eu
cp "$1"/make/* .
make -s -j2
./prog
make -s clean
