// Shapes shared by the model benchmarks.

export interface EngineRun {
  prefillSeconds: number
  decodeSeconds: number
  /** Greedy tokens: the one after the prompt, then one per decode step. */
  tokens: number[]
  /** Logits after the prompt and after each decode step (Verimesh: int32 Q16). */
  logits: Int32Array[]
  /** Activation bytes of every call (q then scales), for byte comparison across backends. */
  acts: Uint8Array[]
}

/** Greedy choice: the highest logit, the lowest index on ties (spec §3). */
export function argmaxOf (v: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i
  return best
}
