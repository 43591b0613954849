#!/usr/bin/env bash
# The native I/O layer and binding under AddressSanitizer + UndefinedBehaviorSanitizer: builds the
# addon with -fsanitize=address,undefined into build-io-asan/ and runs the TCP transport tests and the
# worker-exit scenarios (worker env teardown; their child process inherits the preload) with
# the sanitizer runtimes preloaded into node (node itself is not instrumented; leaks are not checked
# because V8 owns memory the sanitizer cannot see freed at exit). Env: L2N_IO_ASAN_BUILD (build
# directory, default build-io-asan/: give each concurrent run its own).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build="${L2N_IO_ASAN_BUILD:-$root/build-io-asan}"
npm_config_nodedir=$(dirname "$(dirname "$(command -v node)")") node node_modules/cmake-js/bin/cmake-js build \
  --directory "$root" --out "$build" --config RelWithDebInfo --parallel 2 --prefer-make \
  --CDL2N_ALLOCATOR=system --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
  "--CDCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer" \
  "--CDCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" --log-level warn
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LIBP2P_NATIVE_ADDON="$build/RelWithDebInfo/libp2p_native.node" \
  node --import tsx --test --test-concurrency=1 test/transports/tcp/*.test.ts test/transports/worker-exit.test.ts
