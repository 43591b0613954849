#!/usr/bin/env bash
# The native I/O layer and binding under AddressSanitizer + UndefinedBehaviorSanitizer: builds the
# addon with -fsanitize=address,undefined into build-io-asan/ and runs the TCP transport tests and the
# worker-exit scenarios (worker env teardown; their child process inherits the preload) with
# the sanitizer runtimes preloaded into node (node itself is not instrumented; leaks are not checked
# because V8 owns memory the sanitizer cannot see freed at exit).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
npm_config_nodedir=$(dirname "$(dirname "$(command -v node)")") node node_modules/cmake-js/bin/cmake-js build \
  --directory "$root" --out "$root/build-io-asan" --config RelWithDebInfo --parallel 2 --prefer-make \
  --CDL2N_ALLOCATOR=system --CDCMAKE_BUILD_TYPE=RelWithDebInfo \
  "--CDCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer" \
  "--CDCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" --log-level warn
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
LIBP2P_NATIVE_ADDON="$root/build-io-asan/RelWithDebInfo/libp2p_native.node" \
  node --import tsx --test --test-concurrency=1 test/transports/tcp/*.test.ts test/transports/worker-exit.test.ts
