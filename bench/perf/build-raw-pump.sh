#!/usr/bin/env bash
# Builds bench/perf/raw_pump.c (the raw encrypted TCP pump) into build-bench/raw_pump.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build-bench"
cc -O3 -o "$root/build-bench/raw_pump" "$root/bench/perf/raw_pump.c" $(pkg-config --cflags --libs openssl)
