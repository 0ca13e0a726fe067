// Which backend proves: 'auto' takes the best one that can run here (CUDA, then the
// native CPU prover, then snarkjs); a named one is used or refused with its reason.
// The choice and why are returned so the node can log them.

import { VerimeshError } from '../../../runtime/errors.js'
import type { ProverBackend } from './backend.js'

export type BackendPreference = 'auto' | 'cuda' | 'native' | 'snarkjs'

const PREFERENCE_TO_NAME = { cuda: 'cuda', native: 'native-cpu', snarkjs: 'snarkjs' } as const
const BEST_FIRST = ['cuda', 'native-cpu', 'snarkjs'] as const

export interface BackendChoice {
  backend: ProverBackend
  /** One line: what was chosen and why the better ones were not. */
  reason: string
  /** Every candidate with its availability, best first. */
  considered: Array<{ name: string, available: boolean, why: string }>
}

export function selectBackend (preference: BackendPreference, backends: readonly ProverBackend[]): BackendChoice {
  const ordered = BEST_FIRST.map((n) => backends.find((b) => b.name === n)).filter((b): b is ProverBackend => b !== undefined)
  const considered = ordered.map((b) => {
    const a = b.available()
    return { name: b.name, available: a.available, why: a.available ? a.detail : a.reason }
  })
  if (preference !== 'auto') {
    const name = PREFERENCE_TO_NAME[preference]
    const backend = ordered.find((b) => b.name === name)
    const c = considered.find((x) => x.name === name)
    if (backend === undefined || c === undefined || !c.available) {
      throw new VerimeshError('PROVER_UNAVAILABLE', `prover backend '${preference}' was configured but is not available: ${c?.why ?? 'not built into this node'}`, { preference, considered })
    }
    return { backend, reason: `${name} (configured): ${c.why}`, considered }
  }
  const i = considered.findIndex((c) => c.available)
  if (i < 0) throw new VerimeshError('PROVER_UNAVAILABLE', `no prover backend can run here: ${considered.map((c) => `${c.name}: ${c.why}`).join('; ')}`, { considered })
  const skipped = considered.slice(0, i).map((c) => `${c.name} ${c.why.startsWith('not available') ? c.why.slice('not available: '.length) : c.why}`)
  return {
    backend: ordered[i]!,
    reason: `${considered[i]!.name} (auto): ${considered[i]!.why}${skipped.length > 0 ? `; skipped ${skipped.join('; ')}` : ''}`,
    considered
  }
}
