#!/usr/bin/env bash
# The main job: a local perf run over loopback. Starts a libp2p-native perf server, runs a perf
# client against it (live progress line on a terminal, JSON lines on stdout), prints the result.
# Env: PERF_TRANSPORT (tcp), PERF_UPLOAD_BYTES and PERF_DOWNLOAD_BYTES (1 GiB each).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
transport=${PERF_TRANSPORT:-tcp}
up=${PERF_UPLOAD_BYTES:-1073741824}
down=${PERF_DOWNLOAD_BYTES:-1073741824}
cli="node bin/libp2p-native.js perf"
out=$(mktemp)
$cli --run-server --transport "$transport" --server-address 127.0.0.1:0 >"$out" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 200); do
  addr=$(head -n 1 "$out" 2>/dev/null || true)
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "${addr:-}" ] || { echo "perf server did not start" >&2; exit 1; }
echo "server: $addr" >&2
echo "client: upload $up bytes, download $down bytes over $transport" >&2
$cli --server-address "$addr" --transport "$transport" --upload-bytes "$up" --download-bytes "$down" | tee "$out.client"
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(l => JSON.parse(l))
const f = lines.find(l => l.type === "final")
const gbit = (f.uploadBytes + f.downloadBytes) * 8 / f.timeSeconds / 1e9
console.error(`result: ${f.uploadBytes} bytes up + ${f.downloadBytes} bytes down in ${f.timeSeconds.toFixed(3)} s = ${gbit.toFixed(2)} Gbit/s`)
' "$out.client"
rm -f "$out.client"
