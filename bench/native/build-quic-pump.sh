#!/usr/bin/env bash
# Builds bench/native/quic_pump.cpp (raw ngtcp2 + GnuTLS loopback pump) into build-bench/quic_pump
# and quic_engine_pump.cpp (our engine, same I/O) into build-bench/quic_engine_pump; with
# --run [MiB], runs both one after the other. The "70% of raw ngtcp2" comparison. Also builds
# build-bench/quic_conn_memory (heap per handshaking connection, behind EndpointConfig's bounds)
# build-bench/quic_handshake_cost (CPU per handshake, per side, and its round trips) and
# build-bench/quic_sig_cost (sign/verify cost per certificate key type through GnuTLS).
# --pump-only: build only build-bench/quic_pump (what bench/perf/compare.ts --transport quic runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$root/build-bench"
c++ -std=c++20 -O2 -g -Wall -Wextra -Wno-unused-parameter -I"$root/native/include" \
  -o "$root/build-bench/quic_pump" "$root/bench/native/quic_pump.cpp" \
  $(pkg-config --cflags --libs libngtcp2 libngtcp2_crypto_gnutls gnutls) -pthread
if [ "${1:-}" = --pump-only ]; then exit 0; fi
core=$(ls "$root"/native/core/{tls,quic,identity,crypto}/*.cpp)
c++ -std=c++20 -O2 -g -Wall -Wextra -Wno-unused-parameter -I"$root/native/include" -I"$root/native" \
  -o "$root/build-bench/quic_engine_pump" "$root/bench/native/quic_engine_pump.cpp" $core \
  $(pkg-config --cflags --libs libngtcp2 libngtcp2_crypto_gnutls gnutls openssl libsodium hogweed nettle gmp) -pthread
c++ -std=c++20 -O2 -g -Wall -Wextra -Wno-unused-parameter -I"$root/native/include" -I"$root/native" \
  -o "$root/build-bench/quic_conn_memory" "$root/bench/native/quic_conn_memory.cpp" $core \
  $(pkg-config --cflags --libs libngtcp2 libngtcp2_crypto_gnutls gnutls openssl libsodium hogweed nettle gmp) -pthread
c++ -std=c++20 -O2 -g -Wall -Wextra -Wno-unused-parameter -I"$root/native/include" -I"$root/native" \
  -o "$root/build-bench/quic_handshake_cost" "$root/bench/native/quic_handshake_cost.cpp" $core \
  $(pkg-config --cflags --libs libngtcp2 libngtcp2_crypto_gnutls gnutls openssl libsodium hogweed nettle gmp) -pthread
c++ -std=c++20 -O2 -g -Wall -Wextra -I"$root/native/include" \
  -o "$root/build-bench/quic_sig_cost" "$root/bench/native/quic_sig_cost.cpp" $(pkg-config --cflags --libs gnutls)
if [ "${1:-}" = --run ]; then
  "$root/build-bench/quic_pump" "${2:-1024}"
  "$root/build-bench/quic_engine_pump" "${2:-1024}"
fi
