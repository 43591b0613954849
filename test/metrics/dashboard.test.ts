/**
 * docs/grafana/libp2p-native.json charts exactly what src/metrics registers: every metric name in
 * every panel expression is a sample name of a registered family (counters with `_total`,
 * histograms with `_bucket`/`_sum`/`_count`, as exposed in OpenMetrics), and every family of the
 * Swarm, ping, identify and request-response recorders appears in some panel.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Registry, openMetricsContentType, type RegistryContentType } from 'prom-client'
import { combine } from '../../src/core/combine.ts'
import { PingBehaviour } from '../../src/protocols/ping/index.ts'
import { IdentifyBehaviour } from '../../src/protocols/identify/index.ts'
import { RequestResponseBehaviour, bytesCodec } from '../../src/protocols/request-response/index.ts'
import { Metrics } from '../../src/metrics/index.ts'
import { closeAll, createSwarm } from '../helpers/swarm.ts'
import { exposedSampleNames } from './scrape.ts'

const DASHBOARD = new URL('../../docs/grafana/libp2p-native.json', import.meta.url)
const METRIC_NAME = /\blibp2p_[a-z0-9_]+\b/g

interface Panel { type: string, title: string, targets?: Array<{ expr: string }>, panels?: Panel[] }

function panelsOf (list: readonly Panel[]): Panel[] {
  return list.flatMap(p => [p, ...panelsOf(p.panels ?? [])])
}

test('Grafana dashboard: every expression uses registered metric names, and every family is charted', async () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string, uid: string, panels: Panel[] }
  assert.equal(dashboard.uid, 'libp2p-native')
  const swarm = await createSwarm(key => combine({
    ping: new PingBehaviour(),
    identify: new IdentifyBehaviour({ privateKey: key }),
    rpc: new RequestResponseBehaviour({ codec: bytesCodec(), protocols: ['/dashboard-test/1'] })
  }))
  try {
    const registry = new Registry<RegistryContentType>()
    registry.setContentType(openMetricsContentType)
    // A stand-in for the TCP transport's native per-protocol counters, so that family registers.
    const tcpLike = { name: 'tcp', protocolCounters: () => new Map([['/ipfs/ping/1.0.0', { bytesIn: 32, bytesOut: 32 }]]) }
    const metrics = new Metrics(swarm, { registry, protocolCounters: [tcpLike] })
    const body = await registry.metrics()
    metrics.detach()
    assert.match(body, /libp2p_swarm_protocol_bytes_total\{direction="in",protocol="\/ipfs\/ping\/1.0.0",transport="tcp"\} 32/)
    const exposed = exposedSampleNames(body)
    assert.ok(exposed.size > 20, `only ${exposed.size} sample names registered`)

    const used = new Set<string>()
    const charts = panelsOf(dashboard.panels).filter(p => p.type !== 'row')
    assert.ok(charts.length >= 10)
    for (const panel of charts) {
      assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has no query`)
      for (const { expr } of panel.targets ?? []) {
        const names = expr.match(METRIC_NAME) ?? []
        assert.ok(names.length > 0, `panel "${panel.title}": "${expr}" names no libp2p metric`)
        for (const name of names) {
          assert.ok(exposed.has(name), `panel "${panel.title}" uses ${name}, which is not registered`)
          used.add(name.replace(/_(total|bucket|sum|count)$/, ''))
        }
      }
    }
    const families = [...body.matchAll(/^# TYPE (\S+) /gm)].map(m => m[1] as string)
    const uncharted = families.filter(f => !used.has(f))
    assert.deepEqual(uncharted, [], `families without a panel: ${uncharted.join(', ')}`)
  } finally {
    await closeAll([swarm])
  }
})
