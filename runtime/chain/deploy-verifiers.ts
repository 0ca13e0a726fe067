// The circuits' Groth16 verifiers, deployed next to the protocol. Their bytecode embeds
// the keys of one circuits build (`npm run circuits:build` exports
// circuits/build/<name>/<name>Verifier.sol), so they are compiled and deployed at run
// time rather than being PROTOCOL_STEPS. Shared by the devnet and `verimesh chain deploy`.
//
//   const verifiers = await deployCircuitVerifiers(signer, buildDir)
//   await deployProtocol(signer, { ...verifierDeployOptions(verifiers) })
import { existsSync } from 'node:fs'
import path from 'node:path'
import type { Signer } from 'ethers'

import { VerimeshError } from '../errors.js'
import type { DeployProtocolOptions } from './deploy.js'
import { disputesStep } from './disputes.js'
import { compileVerifier, Groth16VerifierClient } from './groth16-verifier.js'

export interface CircuitVerifiers {
  /** Verifier of the receipt circuit: lets BatchSettlement finalise receipts with a proof. */
  receipt?: string
  /** Verifier of the tile_4x16 circuit: the dispute game's one-step proof. */
  tile?: string
}

const VERIFIERS = [
  { key: 'receipt', circuit: 'receipt', nPublic: 1 },
  { key: 'tile', circuit: 'tile_4x16', nPublic: 2 }
] as const

export interface DeployVerifiersOptions {
  /** Fail when a verifier source is missing (an explicit --circuits) instead of skipping it (the devnet). */
  required?: boolean
  onProgress?: (message: string) => void
}

/** Deploy the receipt and tile_4x16 verifiers found in `buildDir` (a circuits/build directory). */
export async function deployCircuitVerifiers (deployer: Signer, buildDir: string, opts: DeployVerifiersOptions = {}): Promise<CircuitVerifiers> {
  const sources = VERIFIERS.map((v) => ({ ...v, sol: path.join(buildDir, v.circuit, `${v.circuit}Verifier.sol`) }))
  const missing = sources.filter((s) => !existsSync(s.sol)).map((s) => s.sol)
  if (opts.required === true && missing.length > 0) {
    throw new VerimeshError('CONFIG_INVALID', `${buildDir} is not a circuits build with the receipt and tile_4x16 verifiers (missing ${missing.join(', ')}): build them with \`npm run circuits:build\``, { buildDir, missing })
  }
  const out: CircuitVerifiers = {}
  for (const s of sources) {
    if (!existsSync(s.sol)) continue
    const v = await Groth16VerifierClient.deploy(compileVerifier(s.sol), deployer, s.nPublic)
    out[s.key] = v.address
    opts.onProgress?.(`${s.circuit} Groth16 verifier at ${v.address}`)
  }
  return out
}

/**
 * What deployProtocol needs to wire the verifiers in: Disputes (with the tile verifier)
 * and BatchSettlement.setReceiptVerifier, both done before governance takes ownership.
 */
export function verifierDeployOptions (v: CircuitVerifiers): Pick<DeployProtocolOptions, 'extraSteps' | 'wire'> {
  const receipt = v.receipt
  return {
    ...(v.tile === undefined ? {} : { extraSteps: [disputesStep(v.tile)] }),
    ...(receipt === undefined ? {} : { wire: async (ctx) => { await ctx.send('settlement', 'setReceiptVerifier', [receipt]) } })
  }
}
