#!/usr/bin/env bash
# CPU per connection setup, per thread of each bench peer: runs our server and client peers
# (compiled, from dist/ or the directory given) for <count> sequential setups (dial, handshake,
# first stream, 1-byte round trip) and divides each thread's CPU from the peers' `usage` lines by
# the count. Shows where a setup's CPU goes (JS main thread, Node's own threads, the I/O thread).
#   npm run build:ts && bash bench/perf/setup-cpu.sh quic 1500 [dist]
set -euo pipefail
transport=${1:-quic}; count=${2:-1500}; dist=${3:-dist}
root=$(cd "$(dirname "$0")/../.." && pwd)
peer="$root/$dist/bench/perf/native-peer.js"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
node "$peer" --transport "$transport" --role server > "$out" &
server=$!
for _ in $(seq 100); do [ -s "$out" ] && break; sleep 0.1; done
per_setup='const c=Number(process.argv[1]),who=process.argv[2];let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.trim().split("\n")){const j=JSON.parse(l);if(j.type==="result")console.log(`p50 ${j.p50Ms.toFixed(3)} ms`);if(j.type==="usage")console.log(`${who} CPU us per setup: `+Object.entries(j.threadCpuSeconds).map(([k,v])=>`${k}=${(v*1e6/c).toFixed(0)}`).join(" "))}})'
addr=$(head -1 "$out" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).addrs[0]))')
node "$peer" --transport "$transport" --role client --addr "$addr" --mode connect --count "$count" | node -e "$per_setup" "$count" client
kill -TERM "$server"; wait "$server" 2>/dev/null || true
tail -1 "$out" | node -e "$per_setup" "$count" server
