// The development Groth16 setup: INSECURE BY CONSTRUCTION. Its toxic waste (tau, alpha,
// beta, delta) is derived from a public seed, so anyone can forge proofs for keys made
// here. Fine for tests and a devnet; never for anything with value at stake.
//
// Two implementations of one interface: the addon's native known-tau setup
// (addon.zkSetupDev) when the addon has it, and snarkjs (powers of tau with a seeded
// beacon, prepare phase 2, newZKey) which is slow beyond ~2^13 constraints but needs
// nothing native; `--setup snarkjs` keeps it for cross-checking.

import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import { VerimeshError } from '../runtime/errors.js'
import { buildBn128, loadSnarkjs } from './snarkjs.js'

export const INSECURE_LABEL = 'INSECURE DEVELOPMENT SETUP (toxic waste derived from a public seed): for tests and devnets only'
export const DEFAULT_SEED = 'verimesh-dev-setup-v1'

export interface SetupResult {
  readonly backend: SetupBackendName
  readonly ms: number
  readonly insecure: true
  readonly domainPower?: number
}

export type SetupBackendName = 'native' | 'snarkjs'

export interface SetupDev {
  readonly name: SetupBackendName
  /** Writes a Groth16 proving key for `r1csPath` to `zkeyPath`. */
  setup: (r1csPath: string, zkeyPath: string, nConstraints: number, nPublic: number) => Promise<SetupResult>
}

/** Smallest power p with 2^p ≥ constraints + public inputs + 1 (the domain snarkjs uses). */
export function domainPower (nConstraints: number, nPublic: number): number {
  let p = 1
  while (2 ** p < nConstraints + nPublic + 1) p++
  return p
}

/** The largest domain the snarkjs path builds: prepare phase 2 takes minutes at 2^13 and doubles per step. */
export const SNARKJS_MAX_POWER = 13

export function snarkjsSetup (opts: { cacheDir: string, seed: string, maxPower?: number, log?: (line: string) => void }): SetupDev {
  const maxPower = opts.maxPower ?? SNARKJS_MAX_POWER
  const log = opts.log ?? (() => {})
  const beaconHash = createHash('sha256').update(`${opts.seed}/ptau`).digest('hex')
  // one powers-of-tau file per size, made at the size a circuit needs (each step up doubles the time)
  const ptaus = new Map<number, Promise<string>>()

  async function preparePtau (power: number): Promise<string> {
    const ptauFile = path.join(opts.cacheDir, `dev_${power}_${beaconHash.slice(0, 16)}.ptau`)
    if (existsSync(ptauFile)) return ptauFile
    await mkdir(opts.cacheDir, { recursive: true })
    const snarkjs = await loadSnarkjs()
    const curve = await buildBn128()
    const t0 = performance.now()
    const tmp0 = `${ptauFile}.0.tmp`
    const tmp1 = `${ptauFile}.1.tmp`
    const tmp2 = `${ptauFile}.2.tmp`
    try {
      log(`  powers of tau 2^${power}: new accumulator + seeded beacon (${INSECURE_LABEL})`)
      await snarkjs.powersOfTau.newAccumulator(curve, power, tmp0)
      await snarkjs.powersOfTau.beacon(tmp0, tmp1, 'verimesh insecure dev beacon', beaconHash, 10)
      log(`  powers of tau 2^${power}: prepare phase 2 (snarkjs; minutes) after ${((performance.now() - t0) / 1000).toFixed(1)} s`)
      await snarkjs.powersOfTau.preparePhase2(tmp1, tmp2)
      await rename(tmp2, ptauFile)
      log(`  powers of tau 2^${power}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    } finally {
      await curve.terminate()
      await rm(tmp0, { force: true })
      await rm(tmp1, { force: true })
      await rm(tmp2, { force: true })
    }
    return ptauFile
  }

  return {
    name: 'snarkjs',
    async setup (r1csPath, zkeyPath, nConstraints, nPublic) {
      const need = Math.max(8, domainPower(nConstraints, nPublic))
      if (need > maxPower) {
        throw new VerimeshError('CONFIG_INVALID', `${path.basename(r1csPath)} needs a 2^${need} domain; the snarkjs development setup stops at 2^${maxPower} (its prepare phase 2 is too slow beyond): use the native setup`, { r1cs: r1csPath, need, maxPower })
      }
      const t0 = performance.now()
      let ptau = ptaus.get(need)
      if (ptau === undefined) {
        ptau = preparePtau(need)
        ptaus.set(need, ptau)
        ptau.catch(() => ptaus.delete(need))
      }
      const file = await ptau
      const snarkjs = await loadSnarkjs()
      const tmp = `${zkeyPath}.tmp`
      await snarkjs.zKey.newZKey(r1csPath, file, tmp)
      await rename(tmp, zkeyPath)
      return { backend: 'snarkjs', ms: performance.now() - t0, insecure: true, domainPower: need }
    }
  }
}
