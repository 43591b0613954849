#!/usr/bin/env bash
# Builds bench/native/quic_pump.cpp (raw ngtcp2 + GnuTLS loopback pump) into build-bench/quic_pump
# and, with --run [MiB], runs it. The baseline for the QUIC engine's "70% of raw ngtcp2" target.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build-bench"
c++ -std=c++20 -O2 -g -Wall -Wextra -Wno-unused-parameter -I"$root/native/include" \
  -o "$root/build-bench/quic_pump" "$root/bench/native/quic_pump.cpp" \
  $(pkg-config --cflags --libs libngtcp2 libngtcp2_crypto_gnutls gnutls) -pthread
if [ "${1:-}" = --run ]; then exec "$root/build-bench/quic_pump" "${2:-1024}"; fi
