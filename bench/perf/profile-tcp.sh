#!/usr/bin/env bash
# CPU profile of a 1 GiB TCP transfer (Noise + Yamux, one stream) next to the raw C pump: runs
# compare.ts under `perf record -g` (every child process: both of our peers, the raw pump's two
# processes) and prints the per-thread component breakdown of bench/perf/cpu-breakdown.ts.
#
#   bash bench/perf/profile-tcp.sh [down|up] [out.data]
#
# Env: L2N_BENCH_DIST / LIBP2P_NATIVE_ADDON as for compare.ts; PERF_FREQ (default 4000 Hz).
# Takes the shared bench lock (/work/tmp/bench.lock) when it exists, so it never overlaps another
# measurement. Needs perf with kernel samples (root, or perf_event_paranoid <= 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
scenario=${1:-down}
out=${2:-$(mktemp --suffix=.perf.data)}
lock=/work/tmp/bench.lock
run=(perf record -F "${PERF_FREQ:-4000}" -g -o "$out" -- node --import tsx bench/perf/compare.ts --only native,raw --scenarios "$scenario" --gib 1)
if [ -e "$lock" ]; then flock "$lock" "${run[@]}"; else "${run[@]}"; fi 2>&1 | grep -E '^  (libp2p|raw)' || true
perf script -i "$out" -F comm,pid,tid,ip,sym,dso 2>/dev/null | node --import tsx bench/perf/cpu-breakdown.ts
echo "perf data: $out"
