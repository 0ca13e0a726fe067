// The Solidity Groth16 verifiers that `npm run circuits:build` exports from each
// circuit's keys (snarkjs's template, contract `Groth16Verifier`): compiled with
// solc-js under the same settings as contracts/ (scripts/compile-contracts.js),
// deployed, and called with snarkjs-shaped proofs.
//
// They are compiled here rather than in `npm run build` because they exist only
// once the circuits are built, and their bytecode embeds that build's keys.
import { createHash } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'

import { Contract, ContractFactory, type ContractRunner, type InterfaceAbi, type Signer } from 'ethers'

import { VerimeshError } from '../errors.js'
import type { ContractArtifact } from './contracts.js'

/** Same as scripts/compile-contracts.js: what the embedded chain runs. */
const EVM_VERSION = 'cancun'
const OPTIMIZER_RUNS = 200
const CONTRACT_NAME = 'Groth16Verifier'

/** A Groth16 proof as snarkjs writes it (decimal strings, projective with z = 1). */
export interface SnarkjsProof {
  pi_a: readonly string[]
  pi_b: readonly (readonly string[])[]
  pi_c: readonly string[]
}

/** verifyProof's arguments: G2 coordinates go (c1, c0), the EIP-197 order. */
export type VerifierCalldata = [
  pA: [bigint, bigint],
  pB: [[bigint, bigint], [bigint, bigint]],
  pC: [bigint, bigint],
  pubSignals: bigint[]
]

interface SolcOutput {
  errors?: Array<{ severity: string, formattedMessage?: string, message: string }>
  contracts?: Record<string, Record<string, { abi: InterfaceAbi, evm: { bytecode: { object: string }, deployedBytecode: { object: string } } }>>
}

const compiled = new Map<string, ContractArtifact>()

/** Compile a verifier source exported by snarkjs; cached by the source's hash. */
export function compileVerifier (solPath: string): ContractArtifact {
  let source: string
  try {
    source = readFileSync(solPath, 'utf8')
  } catch (err) {
    throw new VerimeshError('PROVER_UNAVAILABLE', `no Solidity verifier at ${solPath}: build the circuits with \`npm run circuits:build\``, { path: solPath }, { cause: err })
  }
  const key = createHash('sha256').update(source).digest('hex')
  const hit = compiled.get(key) ?? readCached(solPath, key)
  if (hit !== undefined) {
    compiled.set(key, hit)
    return hit
  }
  const solc = createRequire(import.meta.url)('solc') as { compile: (input: string) => string, version: () => string }
  const input = {
    language: 'Solidity',
    sources: { 'Verifier.sol': { content: source } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } }
    }
  }
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error')
  const c = out.contracts?.['Verifier.sol']?.[CONTRACT_NAME]
  if (errors.length > 0 || c === undefined) {
    const why = errors.map((e) => e.formattedMessage ?? e.message).join('\n') || `no contract ${CONTRACT_NAME} in the source`
    throw new VerimeshError('CONFIG_INVALID', `cannot compile the verifier ${solPath}: ${why}`, { path: solPath })
  }
  const artifact: ContractArtifact = {
    contractName: CONTRACT_NAME,
    sourceName: solPath,
    abi: c.abi,
    bytecode: '0x' + c.evm.bytecode.object,
    deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    compiler: { name: 'solc', version: solc.version(), evmVersion: EVM_VERSION, optimizerRuns: OPTIMIZER_RUNS }
  }
  compiled.set(key, artifact)
  // Next to the source, keyed by its hash: a devnet start after a circuits build
  // pays the compile once (seconds with solc-js), not on every start.
  try {
    writeFileSync(cachePath(solPath), JSON.stringify({ sourceSha256: key, artifact }) + '\n')
  } catch { /* a read-only build directory only costs the recompile */ }
  return artifact
}

function cachePath (solPath: string): string {
  return `${solPath}.artifact.json`
}

function readCached (solPath: string, key: string): ContractArtifact | undefined {
  try {
    const c = JSON.parse(readFileSync(cachePath(solPath), 'utf8')) as { sourceSha256?: string, artifact?: ContractArtifact }
    return c.sourceSha256 === key && c.artifact?.compiler?.evmVersion === EVM_VERSION ? c.artifact : undefined
  } catch {
    return undefined
  }
}

function decimal (v: string | undefined, what: string): bigint {
  if (v === undefined || !/^[0-9]{1,78}$/.test(v)) {
    throw new VerimeshError('PROOF_INPUT_INVALID', `${what} is not a decimal field element: ${String(v)}`, { what, value: v })
  }
  return BigInt(v)
}

/** snarkjs proof + public signals → verifyProof's arguments. */
export function verifierCalldata (proof: SnarkjsProof, publicSignals: readonly string[]): VerifierCalldata {
  const [b0, b1] = [proof.pi_b[0], proof.pi_b[1]]
  if (proof.pi_a.length < 2 || proof.pi_c.length < 2 || b0 === undefined || b1 === undefined || b0.length !== 2 || b1.length !== 2) {
    throw new VerimeshError('PROOF_INPUT_INVALID', 'the proof does not have snarkjs\'s Groth16 shape (pi_a, pi_b, pi_c)', {})
  }
  return [
    [decimal(proof.pi_a[0], 'pi_a[0]'), decimal(proof.pi_a[1], 'pi_a[1]')],
    [
      [decimal(b0[1], 'pi_b[0][1]'), decimal(b0[0], 'pi_b[0][0]')],
      [decimal(b1[1], 'pi_b[1][1]'), decimal(b1[0], 'pi_b[1][0]')]
    ],
    [decimal(proof.pi_c[0], 'pi_c[0]'), decimal(proof.pi_c[1], 'pi_c[1]')],
    publicSignals.map((s, i) => decimal(s, `publicSignals[${i}]`))
  ]
}

/** A deployed verifier of one circuit. */
export class Groth16VerifierClient {
  private constructor (readonly address: string, private readonly contract: Contract, readonly nPublic: number) {}

  static async deploy (artifact: ContractArtifact, signer: Signer, nPublic: number): Promise<Groth16VerifierClient> {
    const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer)
    const c = await factory.deploy()
    await c.waitForDeployment()
    return new Groth16VerifierClient(await c.getAddress(), c.connect(signer) as Contract, nPublic)
  }

  static connect (address: string, artifact: ContractArtifact, runner: ContractRunner, nPublic: number): Groth16VerifierClient {
    return new Groth16VerifierClient(address, new Contract(address, artifact.abi, runner), nPublic)
  }

  private args (proof: SnarkjsProof, publicSignals: readonly string[]): VerifierCalldata {
    if (publicSignals.length !== this.nPublic) {
      throw new VerimeshError('PROOF_INPUT_INVALID', `this verifier takes ${this.nPublic} public signal(s), got ${publicSignals.length}`, { expected: this.nPublic, got: publicSignals.length })
    }
    return verifierCalldata(proof, publicSignals)
  }

  /** The verifier's answer (an eth_call: no transaction). */
  async verify (proof: SnarkjsProof, publicSignals: readonly string[]): Promise<boolean> {
    const fn = this.contract.getFunction('verifyProof')
    return await fn.staticCall(...this.args(proof, publicSignals)) as boolean
  }

  /** Gas of a verifyProof transaction (intrinsic 21 k and calldata included). */
  async estimateGas (proof: SnarkjsProof, publicSignals: readonly string[]): Promise<bigint> {
    return await this.contract.getFunction('verifyProof').estimateGas(...this.args(proof, publicSignals))
  }
}
