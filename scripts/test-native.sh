#!/usr/bin/env bash
# Native engine tests under ASan+UBSan (clang), then a short libFuzzer run of every target over
# its seed corpus. Env: L2N_FUZZ_SECONDS (default 10 per target), L2N_SKIP_FUZZ=1,
# L2N_NATIVE_TEST_BUILD (build directory, default build-native-test/: give each concurrent run its own).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build="${L2N_NATIVE_TEST_BUILD:-$root/build-native-test}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
cmake -S "$root/native/test" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DL2N_SANITIZE=ON -DL2N_FUZZ=ON >/dev/null
cmake --build "$build" --parallel 2 >/dev/null
passed=0; failed=0
for t in "$build"/*_test; do
  [ -x "$t" ] || continue
  echo "== $(basename "$t")"
  if "$t"; then passed=$((passed+1)); else failed=$((failed+1)); fi
done
if [ "${L2N_SKIP_FUZZ:-0}" != 1 ]; then
  secs=${L2N_FUZZ_SECONDS:-10}
  for f in "$build"/*_fuzz; do
    [ -x "$f" ] || continue
    name=$(basename "$f" _fuzz)
    corpus="$root/native/test/corpus/$name"
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null || true
    echo "== fuzz $name for ${secs}s"
    if "$f" -max_total_time="$secs" -print_final_stats=0 "$work" >"$work.log" 2>&1; then
      passed=$((passed+1))
    else
      failed=$((failed+1)); tail -40 "$work.log"
    fi
    rm -rf "$work" "$work.log"
  done
fi
echo "native: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
