#!/usr/bin/env bash
# The whole test suite: type check, native engine tests (ASan+UBSan) with a short fuzz run, then the
# TypeScript tests (unit, compliance, interop against js-libp2p over loopback).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
npx tsc -p tsconfig.json --noEmit
bash scripts/test-native.sh
node --import tsx --test --test-concurrency=1 --test-timeout=120000 $(find test -name '*.test.ts' | sort)
# The transport suites again with the I/O loop inline on the JS thread (ioThreads 0, native-core.md).
LIBP2P_NATIVE_THREADS=0 node --import tsx --test --test-concurrency=1 --test-timeout=120000 $(find test/transports/tcp test/transports/quic -name '*.test.ts' | sort)
