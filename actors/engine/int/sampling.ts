// Deterministic sampling from int32 Q16 logits (spec §3). Shared by every backend: the
// last shard's logits come back from the native, CUDA or JS kernel and are sampled
// here, so re-execution anywhere reproduces the same token from the request's seed.

import { createHash } from 'node:crypto'
import { VerimeshError } from '../../../runtime/errors.js'
import { exp2q30, LOG2E_Q30, rdiv } from './fixed.js'

export interface Sampling {
  /** 0 = greedy; otherwise 10…10000 (1000 = temperature 1.0). */
  readonly temperatureMilli: number
  /** 0 = no limit. */
  readonly topK: number
  /** 1…1000; 1000 = off. Absent = off. */
  readonly topPMilli?: number
  /** uint64 as a decimal string, from the signed request. */
  readonly seed: string
}

export function argmax (logits: Int32Array): number {
  let best = 0
  for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i
  return best
}

/** The 64-bit draw for one step: sha256(seed BE u64 ‖ step BE u32), first 8 bytes. */
export function drawFor (seed: string, step: number): bigint {
  const buf = Buffer.alloc(12)
  buf.writeBigUInt64BE(BigInt.asUintN(64, BigInt(seed)))
  buf.writeUInt32BE(step >>> 0, 8)
  return createHash('sha256').update(buf).digest().readBigUInt64BE(0)
}

export function sampleToken (logits: Int32Array, s: Sampling, step: number): number {
  if (s.temperatureMilli === 0) return argmax(logits)
  if (!(Number.isInteger(s.temperatureMilli) && s.temperatureMilli >= 10 && s.temperatureMilli <= 10000)) {
    throw new VerimeshError('REQUEST_INVALID', `temperatureMilli must be 0 or in [10, 10000], got ${s.temperatureMilli}`)
  }
  const topP = s.topPMilli ?? 1000
  if (!(Number.isInteger(topP) && topP >= 1 && topP <= 1000)) throw new VerimeshError('REQUEST_INVALID', `topPMilli must be in [1, 1000], got ${topP}`)
  const n = logits.length
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => logits[b]! - logits[a]! || a - b)
  const k = s.topK > 0 ? Math.min(s.topK, n) : n
  const mx = logits[order[0]!]!
  const kt = rdiv(LOG2E_Q30 * 1000, s.temperatureMilli)
  const e: number[] = []
  let total = 0
  for (let r = 0; r < k; r++) {
    const d = Math.max(logits[order[r]!]! - mx, -16777216)
    // d · KT can exceed 2^53: BigInt for exactness.
    const y = Number((BigInt(d) * BigInt(kt) + (1n << 29n)) >> 30n)
    const v = exp2q30(y)
    e.push(v)
    total += v
  }
  let kept = k
  if (topP < 1000) {
    let cum = 0
    for (let r = 0; r < k; r++) {
      cum += e[r]!
      // Sums reach n · 2^30; compare in BigInt so the product stays exact.
      if (1000n * BigInt(cum) >= BigInt(topP) * BigInt(total)) { kept = r + 1; break }
    }
  }
  let sum = 0
  for (let r = 0; r < kept; r++) sum += e[r]!
  const target = (drawFor(s.seed, step) * BigInt(sum)) >> 64n
  let cum = 0n
  for (let r = 0; r < kept; r++) {
    cum += BigInt(e[r]!)
    if (cum > target) return order[r]!
  }
  return order[kept - 1]!
}
