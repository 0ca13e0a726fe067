// Compiles Solidity that exists only for tests and benchmarks (contracts/test/*.sol:
// windows onto libraries, stand-ins for contracts not yet deployed, gas probes)
// with solc-js under the same settings as scripts/compile-contracts.js.
//
// They are compiled on demand rather than by `npm run build` so that the artifacts
// the devnet deploys (dist/contracts) never include a test-only contract.
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import type { InterfaceAbi } from 'ethers'

import { VerimeshError } from '../errors.js'
import type { ContractArtifact } from './contracts.js'

/** Same as scripts/compile-contracts.js: what the embedded chain runs. */
const EVM_VERSION = 'cancun'
const OPTIMIZER_RUNS = 200

/** The repository root, from dist/runtime/chain/solc-harness.js (or runtime/chain/ under a TS loader). */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const rootGuess = existsSync(join(REPO_ROOT, 'contracts')) ? REPO_ROOT : fileURLToPath(new URL('../../', import.meta.url))

/** contracts/ of the source tree. */
export const CONTRACTS_SRC_DIR = join(rootGuess, 'contracts')

interface SolcOutput {
  errors?: Array<{ severity: string, formattedMessage?: string, message: string }>
  contracts?: Record<string, Record<string, { abi: InterfaceAbi, evm: { bytecode: { object: string }, deployedBytecode: { object: string } } }>>
}

const cache = new Map<string, Map<string, ContractArtifact>>()

/**
 * Compile contracts/<sourcePath> (e.g. 'test/BLSHarness.sol') and every contract it
 * defines; imports resolve against contracts/ then node_modules, like the build.
 * Cached per process by path.
 */
export function compileHarness (sourcePath: string, srcDir: string = CONTRACTS_SRC_DIR): Map<string, ContractArtifact> {
  const key = join(srcDir, sourcePath)
  const hit = cache.get(key)
  if (hit !== undefined) return hit
  const solc = createRequire(import.meta.url)('solc') as {
    compile: (input: string, callbacks: { import: (p: string) => { contents: string } | { error: string } }) => string
    version: () => string
  }
  let content: string
  try {
    content = readFileSync(key, 'utf8')
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `no Solidity source at ${key}`, { path: key }, { cause: err })
  }
  const findImports = (p: string): { contents: string } | { error: string } => {
    for (const base of [srcDir, join(rootGuess, 'node_modules')]) {
      const candidate = join(base, p)
      if (existsSync(candidate)) return { contents: readFileSync(candidate, 'utf8') }
    }
    return { error: `file not found: ${p}` }
  }
  const input = {
    language: 'Solidity',
    sources: { [sourcePath]: { content } },
    settings: {
      evmVersion: EVM_VERSION,
      optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } }
    }
  }
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports })) as SolcOutput
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) {
    const why = errors.map((e) => e.formattedMessage ?? e.message).join('\n')
    throw new VerimeshError('CONFIG_INVALID', `cannot compile ${sourcePath}: ${why}`, { path: key })
  }
  const artifacts = new Map<string, ContractArtifact>()
  // Every contract of every source, imports included: a harness file may pull in the
  // contract under test (QuorumRegistry) as well as define its own stand-ins.
  for (const [sourceName, contracts] of Object.entries(out.contracts ?? {})) {
    for (const [contractName, c] of Object.entries(contracts)) {
      if (c.evm.bytecode.object.length === 0) continue // interfaces and abstract contracts
      artifacts.set(contractName, {
        contractName,
        sourceName: `contracts/${sourceName}`,
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
        compiler: { name: 'solc', version: solc.version(), evmVersion: EVM_VERSION, optimizerRuns: OPTIMIZER_RUNS }
      })
    }
  }
  cache.set(key, artifacts)
  return artifacts
}

/** One contract of compileHarness's output, or a CONFIG_INVALID error naming what was there. */
export function harnessArtifact (sourcePath: string, contractName: string, srcDir?: string): ContractArtifact {
  const all = compileHarness(sourcePath, srcDir)
  const a = all.get(contractName)
  if (a === undefined) {
    throw new VerimeshError('CONFIG_INVALID', `no contract ${contractName} in ${sourcePath} (has ${[...all.keys()].join(', ')})`, { path: sourcePath, contractName })
  }
  return a
}
