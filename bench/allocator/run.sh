#!/usr/bin/env bash
# Allocator bench (issue 2, item 1): builds the addon once per allocator (system, mimalloc,
# jemalloc), each into its own directory, and runs the native throughput and connection-setup
# scenarios of bench/perf/compare.ts against each build, rounds interleaved (system, mimalloc,
# jemalloc, system, ...) so that load drifting on a shared machine hits every allocator alike.
# Prints one table with the median of the rounds and the min-max range.
#
#   bash bench/allocator/run.sh
# Env:
#   ALLOCATORS="system mimalloc jemalloc"   which builds to compare
#   ROUNDS=3                                rounds per allocator (the median is printed)
#   GIB=1                                   bytes per download/upload, in GiB (compare.ts --gib)
#   SCENARIOS=down,up,connect               compare.ts --scenarios
#   SKIP_BUILD=1                            reuse the builds already in OUT_PREFIX-<allocator>/
#   OUT_PREFIX=build-allocbench             build directories (helper rules: never build/)
#   RESULTS=<dir>                           where the JSON of each run goes (default: a temp dir)
# jemalloc: Debian's libjemalloc.so.2 uses initial-exec TLS, so the addon only loads when node
# starts with LD_PRELOAD=libjemalloc.so.2 (README, "Native TCP transport"); this script sets it for
# the jemalloc runs only. The addon is chosen with LIBP2P_NATIVE_ADDON (src/native/host.ts), which
# the bench peers inherit from compare.ts.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

ALLOCATORS=${ALLOCATORS:-"system mimalloc jemalloc"}
ROUNDS=${ROUNDS:-3}
GIB=${GIB:-1}
SCENARIOS=${SCENARIOS:-down,up,connect}
OUT_PREFIX=${OUT_PREFIX:-build-allocbench}
RESULTS=${RESULTS:-$(mktemp -d)}
mkdir -p "$RESULTS"

addon_of () { echo "$root/$OUT_PREFIX-$1/Release/libp2p_native.node"; }
preload_of () { if [ "$1" = jemalloc ]; then echo libjemalloc.so.2; else echo ""; fi; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  for a in $ALLOCATORS; do
    echo "== building allocator=$a into $OUT_PREFIX-$a/" >&2
    start=$(date +%s)
    LIBP2P_NATIVE_ALLOCATOR=$a LIBP2P_NATIVE_OUT="$root/$OUT_PREFIX-$a" node scripts/build-native.js >&2
    echo "   built in $(( $(date +%s) - start )) s" >&2
  done
fi

# Each build must say which allocator it links (the addon exports `allocator`), so a stale or
# mislabelled directory cannot pass for another.
for a in $ALLOCATORS; do
  addon=$(addon_of "$a")
  [ -f "$addon" ] || { echo "missing $addon (run without SKIP_BUILD)" >&2; exit 1; }
  got=$(LD_PRELOAD=$(preload_of "$a") node -e "process.stdout.write(require(process.argv[1]).allocator)" "$addon")
  [ "$got" = "$a" ] || { echo "$addon reports allocator '$got', expected '$a'" >&2; exit 1; }
done

echo "== load before the runs: $(uptime)" >&2
for r in $(seq 1 "$ROUNDS"); do
  for a in $ALLOCATORS; do
    echo "== round $r/$ROUNDS allocator=$a" >&2
    LIBP2P_NATIVE_ADDON=$(addon_of "$a") LD_PRELOAD=$(preload_of "$a") \
      node --import tsx bench/perf/compare.ts --only native --scenarios "$SCENARIOS" --gib "$GIB" \
      --json "$RESULTS/$a-$r.json" >/dev/null
  done
done
echo "== load after the runs: $(uptime)" >&2

node bench/allocator/table.mjs "$RESULTS" $ALLOCATORS
