/** Test helpers: an HTTP scrape with node:http, and an OpenMetrics text parser (sample → value). */
import { request, type IncomingHttpHeaders } from 'node:http'

export interface ScrapeResult { status: number, contentType: string | undefined, headers: IncomingHttpHeaders, body: string }

export async function scrape (url: string, method = 'GET'): Promise<ScrapeResult> {
  return await new Promise((resolve, reject) => {
    const req = request(url, { method }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/

/**
 * `name{labels}` (label pairs sorted by name, so tests write one canonical key) → value. Throws on a line that is
 * neither a comment nor a sample, so a malformed exposition fails the test.
 */
export function parseOpenMetrics (body: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`not an OpenMetrics sample line: ${line}`)
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
    out.set(`${m[1] as string}${sortLabels(m[2])}`, value)
  }
  return out
}

function sortLabels (labels: string | undefined): string {
  if (labels === undefined) return ''
  const pairs = [...labels.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(p => [p[1] as string, p[0]] as const)
  pairs.sort((x, y) => x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)
  return `{${pairs.map(p => p[1]).join(',')}}`
}

/** Family names from `# TYPE` lines with the sample names each type exposes. */
export function exposedSampleNames (body: string): Set<string> {
  const names = new Set<string>()
  for (const line of body.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (m === null) continue
    const [, name, type] = m as unknown as [string, string, string]
    if (type === 'counter') names.add(`${name}_total`)
    else if (type === 'histogram') { names.add(`${name}_bucket`); names.add(`${name}_sum`); names.add(`${name}_count`) } else names.add(name)
  }
  return names
}
