#!/usr/bin/env bash
# The whole test suite: type check, native engine tests (ASan+UBSan) with a short fuzz run, then the
# TypeScript tests (unit, compliance, interop against js-libp2p over loopback).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
npx tsc -p tsconfig.json --noEmit
bash scripts/test-native.sh
node --import tsx --test --test-concurrency=1 --test-timeout=120000 $(find test -name '*.test.ts' | sort)
