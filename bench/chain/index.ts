// Suite 'chain': gas of the on-chain half (issue 5) on the embedded EVM, against the
// issue's targets, with the pre-issue-5 per-receipt ECDSA Settlement as the named peer
// measured in the same run (bench/chain/README.md).
//
//   settlement  BatchSettlement gas per batch vs batch size (1 … 4096 receipts) and the
//               amortised gas per inference (measureSettlementGas, settlement-gas.ts)
//   quorum      QuorumRegistry.verifyQuorum gas vs quorum size and non-signers (measureQuorumGas)
//   groth16     verifyProof of each circuit's exported verifier, real snarkjs proofs
//   disputes    dispute move gas, when bench/chain/dispute-gas.ts exports measureDisputeGas
//   peer        Settlement.recordReceipt (one tx per receipt, 2 or 3 ECDSA signatures)
//
// A part whose measurement fails (or, for disputes, whose module is not there) prints
// "not available" rows instead of failing the suite. Options (environment): VERIMESH_BENCH_CHAIN_BATCHES=1,64,4096,
// VERIMESH_BENCH_CHAIN_QUORUMS=4,16,64, VERIMESH_BENCH_CHAIN_NONSIGNERS=0,1,4,16,
// VERIMESH_BENCH_CHAIN_CIRCUITS=receipt,iris_mlp.
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Wallet, getBytes, keccak256, toUtf8Bytes } from 'ethers'

import { SettlementClient, deploySettlement } from '../../runtime/chain/contracts.js'
import { startEmbeddedChain, type EmbeddedChain } from '../../runtime/chain/embedded-chain.js'
import { compileVerifier, Groth16VerifierClient } from '../../runtime/chain/groth16-verifier.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { median, metric, type Metric, type Suite, type SuiteContext } from '../suite.js'
import { measureQuorumGas, type QuorumGasRow } from './quorum-gas.js'
import { measureSettlementGas, type SettlementGasRow } from './settlement-gas.js'

export const TARGET_GAS_PER_INFERENCE = 1_000
export const TARGET_QUORUM_BASE = 150_000
/** "A few thousand per non-signer": the bench holds it to 5 k. */
export const TARGET_QUORUM_PER_NONSIGNER = 5_000
export const TARGET_GROTH16 = 230_000
export const GROTH16_TARGET_MAX_INPUTS = 4

const DEFAULT_BATCHES = [1, 4, 16, 64, 256, 1024, 4096]
const QUICK_BATCHES = [1, 16, 256]

function envList (name: string): number[] | undefined {
  const v = process.env[name]
  if (v === undefined || v.trim() === '') return undefined
  return v.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n >= 0)
}

const r0 = Math.round

/** A row that could not be measured: shown with its target, value '-', and why. */
function unavailable (name: string, unit: string, why: string, target?: number): Metric {
  return { name, value: Number.NaN, unit, better: 'lower', ...(target !== undefined ? { target } : {}), note: `not available: ${why}` }
}

const why = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200)

/** Import bench/chain/<file> when it exists (it is written by another part of the issue). */
async function optionalModule<T> (file: string): Promise<T | undefined> {
  const url = new URL(`./${file}`, import.meta.url)
  if (!existsSync(fileURLToPath(url))) return undefined
  return await import(pathToFileURL(fileURLToPath(url)).href) as T
}

// ---- peer: per-receipt ECDSA settlement -------------------------------------------------

export interface PeerGas { signatures: number, gasPerReceipt: number, samples: number }

/**
 * The pre-issue-5 Settlement: one recordReceipt transaction per inference, checked
 * with `signatures` EIP-191 signatures from registered validators (threshold = that).
 */
export async function measurePeerSettlement (chain: EmbeddedChain, signatures: number, samples: number): Promise<PeerGas> {
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  try {
    const owner = new Wallet(chain.accounts[0]!.privateKey, provider)
    const validators = chain.accounts.slice(1, 1 + signatures).map((a) => new Wallet(a.privateKey, provider))
    const address = await deploySettlement(owner, { validators: validators.map((v) => v.address), threshold: signatures })
    const client = SettlementClient.connect(address, owner)
    const gas: number[] = []
    for (let i = 0; i < samples; i++) {
      const hash = keccak256(toUtf8Bytes(`peer receipt ${signatures} ${i}`))
      const sigs = await Promise.all(validators.map(async (v) => await v.signMessage(getBytes(hash))))
      gas.push(Number((await client.recordReceipt(hash, sigs)).gasUsed))
    }
    return { signatures, gasPerReceipt: median(gas), samples }
  } finally {
    provider.destroy()
  }
}

// ---- settlement -----------------------------------------------------------------------

function num (v: number | bigint | undefined): number | undefined {
  return v === undefined ? undefined : Number(v)
}

async function settlementMetrics (ctx: SuiteContext, sizes: number[], peer: PeerGas | undefined): Promise<Metric[]> {
  const largest = Math.max(...sizes)
  const missing = (reason: string): Metric[] => [
    unavailable('settlement gas per batch', 'gas', reason),
    unavailable(`amortised gas per inference (${largest} receipts)`, 'gas/inference', reason, TARGET_GAS_PER_INFERENCE)
  ]
  let rows: SettlementGasRow[]
  try {
    rows = await measureSettlementGas({ batchSizes: sizes, log: ctx.log })
  } catch (err) {
    return missing(`measureSettlementGas failed: ${why(err)}`)
  }
  const out: Metric[] = []
  for (const row of rows) {
    const n = row.batchSize
    const gas = row.gas
    if (n <= 0) continue
    ctx.log(`settlement: ${n} receipts, ${gas} gas`)
    const shape = `${row.calldataBytes} calldata bytes`
    out.push(metric({ name: `settlement gas per batch (${n} receipts)`, value: gas, unit: 'gas', better: 'lower', note: [shape, row.note].filter((x) => x !== undefined && x !== '').join('; ') }))
    const perInference = row.gasPerInference
    out.push(metric({
      name: `amortised gas per inference (${n} receipts)`,
      value: r0(perInference),
      unit: 'gas/inference',
      better: 'lower',
      ...(peer !== undefined ? { peer: `Settlement.recordReceipt, ${peer.signatures} ECDSA sigs`, peerValue: peer.gasPerReceipt } : {}),
      ...(n === largest ? { target: TARGET_GAS_PER_INFERENCE } : {})
    }))
  }
  const last = rows[rows.length - 1]
  if (last !== undefined) {
    out.push(metric({ name: 'payout claim gas (one Merkle claim, batch final)', value: last.claimGas, unit: 'gas', better: 'lower', note: `first claim of a batch, which also finalises it and pays the treasury: ${last.firstClaimGas} gas` }))
  }
  return out.length > 0 ? out : missing('measureSettlementGas returned no rows')
}

// ---- quorum -------------------------------------------------------------------------------

async function quorumMetrics (ctx: SuiteContext, quorumSizes: number[], nonSigners: number[]): Promise<Metric[]> {
  const target = (k: number): number => TARGET_QUORUM_BASE + TARGET_QUORUM_PER_NONSIGNER * k
  const missing = (reason: string): Metric[] => [unavailable('quorum verification gas', 'gas', reason, TARGET_QUORUM_BASE)]
  let rows: QuorumGasRow[]
  try {
    rows = await measureQuorumGas({ quorumSizes, nonSigners })
  } catch (err) {
    return missing(`measureQuorumGas failed: ${why(err)}`)
  }
  const commits = new Map<number, number>()
  for (const r of rows) commits.set(r.quorumSize, r.commitGas)
  return rows.map((r) => {
    ctx.log(`quorum ${r.quorumSize}, ${r.nonSigners} non-signers: call ${r.callGas} gas, tx ${r.txGas} gas`)
    return metric({
      name: `quorum verification gas (quorum ${r.quorumSize}, ${r.nonSigners} non-signers)`,
      value: r.callGas,
      unit: 'gas',
      better: 'lower',
      target: target(r.nonSigners),
      note: `gas of the verifyQuorum call inside a contract; as its own transaction ${r.txGas} gas; signers hold ${(r.signedBps / 100).toFixed(1)}% of the stake; hash-to-curve tried ${r.h2cTries} x value(s)`
    })
  }).concat([...commits].map(([q, gas]) => metric({
    name: `commitQuorum gas (quorum ${q}, once per epoch)`,
    value: gas,
    unit: 'gas',
    better: 'lower',
    note: 'samples the epoch\'s quorum and stores its aggregate key; registry of exactly the quorum size'
  })))
}

// ---- Groth16 --------------------------------------------------------------------------------

async function groth16Metrics (ctx: SuiteContext, chain: EmbeddedChain, wanted: string[] | undefined): Promise<Metric[]> {
  // Loaded lazily: the circuits, snarkjs and their fixtures are heavy and optional.
  let real: typeof import('../prover/real.js')
  let snarkjsMod: typeof import('../../circuits/snarkjs.js')
  let witnessMod: typeof import('../../circuits/witness.js')
  try {
    real = await import('../prover/real.js')
    snarkjsMod = await import('../../circuits/snarkjs.js')
    witnessMod = await import('../../circuits/witness.js')
  } catch (err) {
    return [unavailable('Groth16 verifyProof gas', 'gas', `circuit tooling failed to load: ${why(err)}`, TARGET_GROTH16)]
  }
  const names = real.REAL_CIRCUITS.filter((n) => wanted === undefined || wanted.includes(n))
  const out: Metric[] = []
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  try {
    const signer = new Wallet(chain.accounts[0]!.privateKey, provider)
    const snarkjs = await snarkjsMod.loadSnarkjs()
    for (const name of names) {
      try {
        const circuit = await real.realCircuit(name, ctx.log)
        const wtns = await witnessMod.computeWitness(circuit, real.realInput(name))
        const { proof, publicSignals } = await snarkjs.groth16.prove(circuit.zkeyPath, { type: 'mem', data: wtns })
        const verifier = await Groth16VerifierClient.deploy(compileVerifier(circuit.verifierPath), signer, publicSignals.length)
        if (!await verifier.verify(proof, publicSignals)) throw new Error('the verifier refused a valid snarkjs proof')
        const gas = Number(await verifier.estimateGas(proof, publicSignals))
        ctx.log(`groth16 ${name}: ${publicSignals.length} public input(s), ${gas} gas`)
        const small = publicSignals.length <= GROTH16_TARGET_MAX_INPUTS
        out.push(metric({
          name: `Groth16 verifyProof gas (${name}, ${publicSignals.length} public)`,
          value: gas,
          unit: 'gas',
          better: 'lower',
          ...(small ? { target: TARGET_GROTH16 } : {}),
          note: `eth_estimateGas of a verifyProof transaction (21 k intrinsic + calldata included), snarkjs's exported verifier, snarkjs proof${small ? '' : `; target applies to <= ${GROTH16_TARGET_MAX_INPUTS} public inputs`}`
        }))
      } catch (err) {
        out.push(unavailable(`Groth16 verifyProof gas (${name})`, 'gas', why(err), TARGET_GROTH16))
      }
    }
  } finally {
    provider.destroy()
    await snarkjsMod.releaseSnarkjsCurve().catch(() => undefined)
  }
  return out
}

// ---- disputes --------------------------------------------------------------------------------

interface DisputeRowLike { move?: string, name?: string, step?: string, gas?: number | bigint, gasUsed?: number | bigint, note?: string }
interface DisputeGasModule { measureDisputeGas: (opts?: { log?: (m: string) => void }) => Promise<DisputeRowLike[]> }

async function disputeMetrics (ctx: SuiteContext): Promise<Metric[]> {
  const missing = (reason: string): Metric[] => [unavailable('dispute move gas', 'gas', reason)]
  let mod: DisputeGasModule | undefined
  try {
    mod = await optionalModule<DisputeGasModule>('dispute-gas.js')
  } catch (err) {
    return missing(`bench/chain/dispute-gas.ts failed to load: ${why(err)}`)
  }
  if (mod === undefined || typeof mod.measureDisputeGas !== 'function') return missing('bench/chain/dispute-gas.ts (measureDisputeGas) is not there')
  try {
    const rows = await mod.measureDisputeGas({ log: ctx.log })
    const out = rows.flatMap((r) => {
      const gas = num(r.gas ?? r.gasUsed)
      const what = r.move ?? r.name ?? r.step
      return gas === undefined || what === undefined ? [] : [metric({ name: `dispute ${what} gas`, value: gas, unit: 'gas', better: 'lower', note: r.note })]
    })
    return out.length > 0 ? out : missing('measureDisputeGas returned no rows')
  } catch (err) {
    return missing(`measureDisputeGas failed: ${why(err)}`)
  }
}

// ---- suite ----------------------------------------------------------------------------------

export const suite: Suite = {
  name: 'chain',
  description: 'gas on the embedded EVM: batched settlement vs batch size, BLS quorum verification, Groth16 verifiers, disputes; peer: per-receipt ECDSA Settlement (same run)',
  async run (ctx: SuiteContext): Promise<Metric[]> {
    const batches = envList('VERIMESH_BENCH_CHAIN_BATCHES') ?? (ctx.quick ? QUICK_BATCHES : DEFAULT_BATCHES)
    const quorums = envList('VERIMESH_BENCH_CHAIN_QUORUMS') ?? (ctx.quick ? [4, 16] : [4, 16, 64])
    const nonSigners = envList('VERIMESH_BENCH_CHAIN_NONSIGNERS') ?? (ctx.quick ? [0, 1] : [0, 1, 4, 16])
    const circuits = process.env.VERIMESH_BENCH_CHAIN_CIRCUITS?.split(',').map((s) => s.trim()).filter((s) => s !== '')
    const samples = ctx.quick ? 3 : 9

    const chain = await startEmbeddedChain({ accounts: 4 })
    const metrics: Metric[] = []
    try {
      const peers: PeerGas[] = []
      for (const sigs of [2, 3]) {
        try {
          const p = await measurePeerSettlement(chain, sigs, samples)
          ctx.log(`peer: Settlement.recordReceipt with ${sigs} signatures, ${p.gasPerReceipt} gas per receipt`)
          peers.push(p)
          metrics.push(metric({
            name: `peer: per-receipt ECDSA settlement (${sigs} signatures)`,
            value: p.gasPerReceipt,
            unit: 'gas/inference',
            better: 'lower',
            note: `contracts/Settlement.sol recordReceipt, one transaction per inference (21 k intrinsic included), median of ${p.samples}`
          }))
        } catch (err) {
          metrics.push(unavailable(`peer: per-receipt ECDSA settlement (${sigs} signatures)`, 'gas/inference', why(err), TARGET_GAS_PER_INFERENCE))
        }
      }
      metrics.push(...await settlementMetrics(ctx, batches, peers[0]))
      metrics.push(...await quorumMetrics(ctx, quorums, nonSigners))
      metrics.push(...await groth16Metrics(ctx, chain, circuits))
      metrics.push(...await disputeMetrics(ctx))
    } finally {
      await chain.stop()
    }
    return metrics
  }
}
