// The prover's Prometheus series, registered on the node's own registry. Looked up
// before they are created, so a second prover or verifier in the same node (the
// quorum checks proofs too) shares them instead of failing on a duplicate name.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export interface ProverMetrics {
  readonly proofs: Counter<'circuit' | 'backend' | 'outcome'>
  readonly phaseSeconds: Histogram<'circuit' | 'backend' | 'phase'>
  readonly queueDepth: Gauge<'state'>
  readonly verifications: Counter<'circuit' | 'backend' | 'outcome'>
  readonly verifySeconds: Histogram<'backend'>
}

function once<T> (registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function proverMetrics (registry: Registry): ProverMetrics {
  const registers = [registry]
  return {
    proofs: once(registry, 'verimesh_proofs_total', () => new Counter({ name: 'verimesh_proofs_total', help: 'Proof jobs by circuit, backend and outcome (ok or an error code)', labelNames: ['circuit', 'backend', 'outcome'], registers })),
    phaseSeconds: once(registry, 'verimesh_proof_phase_seconds', () => new Histogram({ name: 'verimesh_proof_phase_seconds', help: 'Proof job time by phase (queue, witness, prove, total)', labelNames: ['circuit', 'backend', 'phase'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers })),
    queueDepth: once(registry, 'verimesh_prover_jobs', () => new Gauge({ name: 'verimesh_prover_jobs', help: 'Prover jobs waiting and running', labelNames: ['state'], registers })),
    verifications: once(registry, 'verimesh_proof_verifications_total', () => new Counter({ name: 'verimesh_proof_verifications_total', help: 'Groth16 proof checks by circuit, verifier and outcome', labelNames: ['circuit', 'backend', 'outcome'], registers })),
    verifySeconds: once(registry, 'verimesh_proof_verify_seconds', () => new Histogram({ name: 'verimesh_proof_verify_seconds', help: 'Groth16 proof check time', labelNames: ['backend'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25], registers }))
  }
}
