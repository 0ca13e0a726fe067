// Supervision policy as pure functions: spec defaults and validation, restart intensity
// bookkeeping, backoff, and which children a strategy restarts. The cell applies them.

import { VerimeshError } from '../errors.js'
import type { BackoffOptions, SupervisionStrategy, SupervisorSpec } from './types.js'

export const DEFAULT_SUPERVISOR: SupervisorSpec = Object.freeze({
  strategy: 'one_for_one',
  intensity: 10,
  periodMs: 10_000,
  backoff: Object.freeze({ minMs: 10, maxMs: 5_000, factor: 2 })
})

const STRATEGIES: readonly SupervisionStrategy[] = ['one_for_one', 'one_for_all', 'rest_for_one']

/** `over` on top of `base`; backoff merges field by field. Throws CONFIG_INVALID. */
export function resolveSpec (base: SupervisorSpec, over: Partial<SupervisorSpec> | undefined): SupervisorSpec {
  const spec: SupervisorSpec = {
    strategy: over?.strategy ?? base.strategy,
    intensity: over?.intensity ?? base.intensity,
    periodMs: over?.periodMs ?? base.periodMs,
    backoff: { ...base.backoff, ...(over?.backoff ?? {}) }
  }
  const bad = (what: string): never => {
    throw new VerimeshError('CONFIG_INVALID', `invalid supervisor spec: ${what}`, { spec })
  }
  if (!STRATEGIES.includes(spec.strategy)) bad(`unknown strategy '${String(spec.strategy)}'`)
  if (!Number.isInteger(spec.intensity) || spec.intensity < 0) bad('intensity must be an integer >= 0')
  if (!(spec.periodMs > 0)) bad('periodMs must be > 0')
  const b = spec.backoff
  if (!(b.minMs >= 0) || !(b.maxMs >= b.minMs) || !(b.factor >= 1)) bad('backoff needs 0 <= minMs <= maxMs and factor >= 1')
  return spec
}

/** Delay before the restart that follows `previous` restarts inside the period. */
export function backoffDelay (backoff: BackoffOptions, previous: number): number {
  return Math.min(backoff.maxMs, backoff.minMs * backoff.factor ** previous)
}

/** Drop restart times older than the period (times are ascending and few: at most intensity + 1). */
export function pruneWindow (times: number[], now: number, periodMs: number): void {
  while (times.length > 0 && times[0] <= now - periodMs) times.shift()
}

/** The children to restart when `failed` fails, in start order. */
export function restartGroup<T> (strategy: SupervisionStrategy, children: readonly T[], failed: T): T[] {
  switch (strategy) {
    case 'one_for_one': return [failed]
    case 'one_for_all': return [...children]
    case 'rest_for_one': {
      const at = children.indexOf(failed)
      return at < 0 ? [failed] : children.slice(at)
    }
  }
}
