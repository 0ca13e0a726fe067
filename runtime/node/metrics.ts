// Prometheus metrics per node: a registry of its own (no process-global default
// registry, so several nodes can share a process in tests) and a /metrics endpoint.

import http from 'node:http'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export class NodeMetrics {
  readonly registry = new Registry()
  readonly messagesReceived: Counter<'role' | 'type'>
  readonly requests: Counter<'outcome'>
  readonly requestSeconds: Histogram<'phase'>
  readonly shardSteps: Counter<'shard'>
  readonly shardStepSeconds: Histogram<'shard'>
  readonly deadLetters: Counter<never>
  readonly actorEscalations: Counter<never>
  readonly peers: Gauge<never>
  readonly verifications: Counter<'outcome'>
  readonly settlements: Counter<'outcome'>

  constructor (labels: Record<string, string> = {}, opts: { processMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels(labels)
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'verimesh_' })
    const r = [this.registry]
    this.messagesReceived = new Counter({ name: 'verimesh_role_messages_total', help: 'Messages handled by role actors', labelNames: ['role', 'type'], registers: r })
    this.requests = new Counter({ name: 'verimesh_requests_total', help: 'Inference requests handled by this router, by outcome', labelNames: ['outcome'], registers: r })
    this.requestSeconds = new Histogram({ name: 'verimesh_request_seconds', help: 'Request latency by phase', labelNames: ['phase'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: r })
    this.shardSteps = new Counter({ name: 'verimesh_shard_steps_total', help: 'Shard steps executed', labelNames: ['shard'], registers: r })
    this.shardStepSeconds = new Histogram({ name: 'verimesh_shard_step_seconds', help: 'Shard step latency', labelNames: ['shard'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: r })
    this.deadLetters = new Counter({ name: 'verimesh_dead_letters_total', help: 'Messages that could not be delivered', registers: r })
    this.actorEscalations = new Counter({ name: 'verimesh_actor_escalations_total', help: 'Supervisor escalations that reached the root', registers: r })
    this.peers = new Gauge({ name: 'verimesh_mesh_peers', help: 'Live peers seen through heartbeats', registers: r })
    this.verifications = new Counter({ name: 'verimesh_verifications_total', help: 'Quorum re-executions by outcome', labelNames: ['outcome'], registers: r })
    this.settlements = new Counter({ name: 'verimesh_settlements_total', help: 'Receipts submitted on chain by outcome', labelNames: ['outcome'], registers: r })
  }

  /** Serve /metrics on host:port (0 picks a free port). Resolves with the bound port. */
  async serve (host: string, port: number): Promise<{ port: number, close: () => Promise<void> }> {
    const server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end('not found: try /metrics\n')
        return
      }
      this.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': this.registry.contentType }).end(body)
      }, (err: unknown) => {
        res.writeHead(500).end(String(err))
      })
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve())
    })
    const addr = server.address()
    const bound = typeof addr === 'object' && addr !== null ? addr.port : port
    return {
      port: bound,
      close: async () => await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
