/**
 * Where the CPU of a TCP transfer goes, per process and thread, in the components that issue 2's
 * "CPU per GiB" work is about: ChaCha20 and Poly1305 (OpenSSL), the kernel's copies to and from
 * user memory, the rest of read()/write(), page faults, epoll, our own code, libc memmove, JS.
 * Reads `perf script -F comm,pid,tid,ip,sym,dso` of a `perf record -g` (call chains: a kernel
 * sample is put under read or write by its chain). bench/perf/profile-tcp.sh runs the whole thing
 * around a locked compare.ts run, our peers and the raw pump alike.
 *
 *   perf script -i perf.data -F comm,pid,tid,ip,sym,dso | node --import tsx bench/perf/cpu-breakdown.ts
 *
 * Prints, per thread with at least 1% of the samples, its sample count and each component's share.
 * Samples count CPU time (cycles at a fixed rate): compare threads by their counts. perf sees
 * whole process lifetimes, so the JS main threads and V8's helper threads (named `node`) carry
 * start-up work (module loading, compilation) that compare.ts's CPU-per-GiB figures leave out;
 * the I/O threads (`l2n-io-*`) and the raw pump's processes are all transfer.
 */
import { createInterface } from 'node:readline'

interface Frame { sym: string, dso: string }

function component (leaf: Frame, chain: Frame[]): string {
  const s = leaf.sym
  if (/chacha/i.test(s)) return 'crypto: chacha20'
  if (/poly1305/i.test(s)) return 'crypto: poly1305'
  if (/EVP_|ossl_|OPENSSL_/.test(s) || leaf.dso.includes('libcrypto')) return 'crypto: other (raw pump: all of it, stripped)'
  if (/memmove|memcpy/.test(s)) return 'libc memmove/memcpy'
  if (leaf.dso.startsWith('[kernel')) {
    const c = chain.map(f => f.sym).join(' ')
    if (s.includes('_copy_to_iter')) return 'kernel: copy to user (read)'
    if (s.includes('_copy_from_iter')) return 'kernel: copy from user (write)'
    if (s.includes('clear_page') || c.includes('page_fault')) return 'kernel: page faults'
    if (/ksys_read|sock_recvmsg|tcp_recvmsg/.test(c)) return 'kernel: read, other'
    if (/ksys_write|tcp_sendmsg/.test(c)) return 'kernel: write, other (TCP/IP, loopback delivery)'
    if (c.includes('epoll')) return 'kernel: epoll'
    if (c.includes('futex')) return 'kernel: futex'
    if (/munmap|madvise|mmap/.test(c)) return 'kernel: mmap/munmap/madvise'
    return 'kernel: other (softirq, scheduler)'
  }
  if (s.includes('l2n')) return 'libp2p-native code'
  if (leaf.dso.includes('libc')) return 'libc, other'
  if (/^_?mi_/.test(s)) return 'mimalloc'
  return `other: ${leaf.dso.split('/').pop() ?? '?'}`
}

const perThread = new Map<string, number>()
const perComponent = new Map<string, Map<string, number>>()
let thread: string | undefined
let chain: Frame[] = []

function flush (): void {
  if (thread !== undefined && chain.length > 0) {
    const c = component(chain[0] as Frame, chain)
    perThread.set(thread, (perThread.get(thread) ?? 0) + 1)
    const m = perComponent.get(thread) ?? new Map<string, number>()
    m.set(c, (m.get(c) ?? 0) + 1)
    perComponent.set(thread, m)
  }
  thread = undefined
  chain = []
}

const header = /^\s*(\S+)\s+(\d+)\/(\d+)\s*$/
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') { flush(); continue }
  const h = thread === undefined ? header.exec(line) : null
  if (h !== null) {
    const [, comm, pid, tid] = h as unknown as [string, string, string, string]
    thread = `${pid} ${pid === tid ? `${comm} (main thread)` : comm}`
    continue
  }
  const m = /^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/.exec(line)
  if (m !== null) chain.push({ sym: (m[1] as string).replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] as string })
}
flush()

const total = [...perThread.values()].reduce((a, b) => a + b, 0)
for (const [t, n] of [...perThread].sort((a, b) => b[1] - a[1])) {
  if (n < total * 0.01) continue
  process.stdout.write(`${t.padEnd(34)} ${String(n).padStart(7)} samples  ${(100 * n / total).toFixed(1)}% of all\n`)
  for (const [c, k] of [...(perComponent.get(t) ?? [])].sort((a, b) => b[1] - a[1])) {
    if (k >= n * 0.01) process.stdout.write(`    ${c.padEnd(52)} ${String(k).padStart(6)}  ${(100 * k / n).toFixed(1)}%\n`)
  }
}
