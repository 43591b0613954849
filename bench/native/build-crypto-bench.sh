#!/usr/bin/env bash
# Builds bench/native/crypto_bench.c into build-bench/crypto_bench and, with --run, runs it.
# Env: CRYPTO_BENCH_SECONDS (per case, default 0.5).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build-bench"
cc -std=c11 -O2 -Wall -Wextra -o "$root/build-bench/crypto_bench" "$root/bench/native/crypto_bench.c" \
  $(pkg-config --cflags --libs openssl libsodium)
if [ "${1:-}" = --run ]; then exec "$root/build-bench/crypto_bench"; fi
