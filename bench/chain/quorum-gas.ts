// Gas of QuorumRegistry.verifyQuorum against quorum size and number of non-signers,
// with real BLS signatures (runtime/crypto/bls.ts). The quorum comes from a stub node
// registry (contracts/test/QuorumHarness.sol) so a 64-member quorum is one transaction;
// verifyQuorum never calls the registry, so its gas is the same as with NodeRegistry.
//
// Two numbers per row: `callGas`, what a contract (BatchSettlement) pays for the external
// call, measured with gasleft() around it by QuorumGasProbe; and `txGas`, eth_estimateGas
// of a transaction calling verifyQuorum directly (adds the 21 000 intrinsic and calldata).
import { Contract, ContractFactory, getAddress, keccak256, toUtf8Bytes, Wallet, type InterfaceAbi, type JsonRpcProvider } from 'ethers'

import { loadArtifact } from '../../runtime/chain/contracts.js'
import { startEmbeddedChain } from '../../runtime/chain/embedded-chain.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { harnessArtifact } from '../../runtime/chain/solc-harness.js'
import {
  aggregateG2, aggregateSignatures, blsKeyPair, hashToG1WithTries, sign, sortByPkHash, type BlsKeyPair, type G1Point, type G2Point
} from '../../runtime/crypto/bls.js'

export const HARNESS_SOURCE = 'test/QuorumHarness.sol'

export interface QuorumValidator { address: string, keys: BlsKeyPair, stake: bigint }

export interface QuorumFixture {
  /** StubNodeRegistry: set validators, stakes and the epoch directly. */
  registry: Contract
  /** StubQuorumParams: quorumSize only. */
  params: Contract
  /** The real QuorumRegistry (dist/contracts artifact), connected to the deployer. */
  quorum: Contract
  probe: Contract
  validators: QuorumValidator[]
}

export interface QuorumAttestation { nonSignerPks: G1Point[], apkG2: G2Point, sigma: G1Point }

async function deploy (abi: InterfaceAbi, bytecode: string, signer: Wallet, ...args: unknown[]): Promise<Contract> {
  const c = await new ContractFactory(abi, bytecode, signer).deploy(...args)
  await c.waitForDeployment()
  return new Contract(await c.getAddress(), abi, signer)
}

/** A validator with a deterministic address and BLS key from `label` and `i`. */
export function makeValidator (label: string, i: number, stake: bigint): QuorumValidator {
  const address = getAddress('0x' + keccak256(toUtf8Bytes(`${label} validator ${i}`)).slice(26))
  return { address, keys: blsKeyPair(`${label} bls ${i}`), stake }
}

/** Deploy stub registry + params, the real QuorumRegistry and the gas probe; register `validators`. */
export async function deployQuorumFixture (signer: Wallet, validators: QuorumValidator[], quorumSize: number): Promise<QuorumFixture> {
  const stubReg = harnessArtifact(HARNESS_SOURCE, 'StubNodeRegistry')
  const stubParams = harnessArtifact(HARNESS_SOURCE, 'StubQuorumParams')
  const probeArt = harnessArtifact(HARNESS_SOURCE, 'QuorumGasProbe')
  const qr = loadArtifact('QuorumRegistry')
  const registry = await deploy(stubReg.abi, stubReg.bytecode, signer)
  const params = await deploy(stubParams.abi, stubParams.bytecode, signer, quorumSize)
  const quorum = await deploy(qr.abi, qr.bytecode, signer, await registry.getAddress(), await params.getAddress())
  const probe = await deploy(probeArt.abi, probeArt.bytecode, signer)
  // In chunks: one transaction per 32 validators keeps each under the block gas limit.
  for (let i = 0; i < validators.length; i += 32) {
    const part = validators.slice(i, i + 32)
    await (await registry.getFunction('addValidators')(part.map((v) => v.address), part.map((v) => v.keys.g1), part.map((v) => v.stake))).wait()
  }
  return { registry, params, quorum, probe, validators }
}

/**
 * What the signers of a quorum hand the settler: the non-signers' G1 keys sorted by key
 * hash, the signers' aggregate G2 key and aggregate signature over `digest`.
 */
export function quorumAttestation (members: readonly BlsKeyPair[], nonSigners: ReadonlySet<number>, digest: string): QuorumAttestation {
  const signers = members.filter((_, i) => !nonSigners.has(i))
  return {
    nonSignerPks: sortByPkHash(members.filter((_, i) => nonSigners.has(i)).map((k) => k.g1)),
    apkG2: aggregateG2(signers.map((k) => k.g2)),
    sigma: aggregateSignatures(signers.map((k) => sign(k.secretKey, digest)))
  }
}

export interface QuorumGasOptions {
  quorumSizes?: number[]
  nonSigners?: number[]
  /** An existing chain (url + a funded key); without it an embedded chain is started and stopped. */
  chain?: { url: string, chainId: number, privateKey: string }
  /** The signed digest (default: keccak256("verimesh quorum gas bench"), which hashToG1 maps in 2 tries). */
  digest?: string
}

export interface QuorumGasRow {
  quorumSize: number
  nonSigners: number
  /** Gas of the external verifyQuorum call inside a contract. */
  callGas: number
  /** eth_estimateGas of a transaction calling verifyQuorum directly. */
  txGas: number
  /** Signed share of the quorum's stake, in basis points (all stakes equal). */
  signedBps: number
  /** x values hashToG1 tried for the digest: each extra one costs ~1 500 gas. */
  h2cTries: number
  /** Gas of the commitQuorum transaction that sampled this quorum (registry of exactly quorumSize validators). */
  commitGas: number
}

/**
 * Measure verifyQuorum for each quorum size × non-signer count; combinations where the
 * signers would hold less than 2/3 of the stake (verifyQuorum reverts) are left out.
 */
export async function measureQuorumGas (opts: QuorumGasOptions = {}): Promise<QuorumGasRow[]> {
  const sizes = opts.quorumSizes ?? [4, 16, 64]
  const missing = opts.nonSigners ?? [0, 1, 4, 16]
  const embedded = opts.chain === undefined ? await startEmbeddedChain({ accounts: 1 }) : undefined
  const url = opts.chain?.url ?? embedded?.url ?? ''
  const chainId = opts.chain?.chainId ?? embedded?.chainId ?? 0
  const key = opts.chain?.privateKey ?? embedded?.accounts[0]?.privateKey ?? ''
  const provider: JsonRpcProvider = connectProvider(url, { chainId })
  const rows: QuorumGasRow[] = []
  // One digest for every row, so rows differ only by quorum size and non-signers.
  const digest = opts.digest ?? keccak256(toUtf8Bytes('verimesh quorum gas bench'))
  const h2cTries = hashToG1WithTries(digest).tries
  try {
    const signer = new Wallet(key, provider)
    for (const size of sizes) {
      const stake = 10n ** 18n
      const validators = Array.from({ length: size }, (_, i) => makeValidator(`gas q${size}`, i, stake))
      const f = await deployQuorumFixture(signer, validators, size)
      const epoch = 1n
      await (await f.registry.getFunction('setEpoch')(epoch)).wait()
      const commitGas = Number((await (await f.quorum.getFunction('commitQuorum')(epoch)).wait())?.gasUsed ?? 0n)
      const memberAddrs = (await f.quorum.getFunction('membersOf')(epoch) as string[]).map((a) => getAddress(a))
      const byAddr = new Map(validators.map((v) => [v.address, v.keys]))
      const members = memberAddrs.map((a) => byAddr.get(a) as BlsKeyPair)
      const quorumAddr = await f.quorum.getAddress()
      for (const k of missing) {
        if (3 * (size - k) < 2 * size) continue
        const att = quorumAttestation(members, new Set(Array.from({ length: k }, (_, i) => i)), digest)
        const args = [epoch, digest, att.nonSignerPks, att.apkG2, att.sigma] as const
        const [callGas] = await f.probe.getFunction('measure').staticCall(quorumAddr, ...args) as [bigint, bigint]
        const txGas = await f.quorum.getFunction('verifyQuorum').estimateGas(...args)
        rows.push({ quorumSize: size, nonSigners: k, callGas: Number(callGas), txGas: Number(txGas), signedBps: Math.floor(((size - k) * 10_000) / size), h2cTries, commitGas })
      }
    }
  } finally {
    provider.destroy()
    await embedded?.stop()
  }
  return rows
}
