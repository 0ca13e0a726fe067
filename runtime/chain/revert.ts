// Revert decoding against every contract this build knows about.
//
// A settler's transaction can revert inside any contract on the call path
// (BatchSettlement calling QuorumRegistry calling a verifier), and the revert
// payload says only a 4-byte selector. So the decoder indexes the custom
// errors of all artifacts in dist/contracts (plus any ABI registered at run
// time, e.g. a circuit verifier compiled on the fly) rather than one
// contract's interface.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { ErrorFragment, Interface, isError, type InterfaceAbi } from 'ethers'

import { VerimeshError } from '../errors.js'

export interface DecodedRevert {
  /** Custom error name, or 'Error' / 'Panic' for the built-in ones. */
  name: string
  /** Arguments, JSON-safe (bigints as decimal strings). */
  args: unknown[]
  /** e.g. "InsufficientStake(uint256,uint256)"; absent for an unknown selector. */
  signature?: string
  /** Contracts (artifact names) that declare this error; empty for built-ins. */
  contracts: string[]
  /** The raw revert payload. */
  data: string
}

interface KnownError { fragment: ErrorFragment, contracts: Set<string> }

const bySelector = new Map<string, KnownError>()
const loadedDirs = new Set<string>()

// Same place loadArtifact reads from (this file is dist/runtime/chain/revert.js).
const ARTIFACTS_DIR = fileURLToPath(new URL('../../contracts/', import.meta.url))

/** Index the custom errors of `abi` under `contract`. Idempotent. */
export function registerErrors (contract: string, abi: InterfaceAbi | Interface): void {
  const iface = abi instanceof Interface ? abi : new Interface(abi)
  iface.forEachError((fragment) => {
    if (fragment.name === 'Error' || fragment.name === 'Panic') return
    const known = bySelector.get(fragment.selector)
    if (known !== undefined) known.contracts.add(contract)
    else bySelector.set(fragment.selector, { fragment, contracts: new Set([contract]) })
  })
}

/**
 * Index every artifact in `dir` (default dist/contracts or
 * $VERIMESH_ARTIFACTS_DIR) once. A missing directory is not an error: the
 * decoder then knows only what was registered explicitly.
 */
export function loadKnownErrors (dir: string = process.env.VERIMESH_ARTIFACTS_DIR ?? ARTIFACTS_DIR): void {
  if (loadedDirs.has(dir)) return
  loadedDirs.add(dir)
  let files: string[]
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'))
  } catch {
    return
  }
  for (const f of files) {
    try {
      const artifact = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { contractName?: string, abi?: InterfaceAbi }
      if (Array.isArray(artifact.abi)) registerErrors(artifact.contractName ?? f.slice(0, -5), artifact.abi)
    } catch { /* not an artifact */ }
  }
}

function jsonSafe (v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (Array.isArray(v)) return v.map(jsonSafe)
  return v
}

/** The revert payload inside an ethers error (or a bare hex string), wherever ethers put it. */
export function revertData (err: unknown): string | undefined {
  if (typeof err === 'string') return /^0x([0-9a-f]{2}){4,}$/i.test(err) ? err : undefined
  const seen = new Set<unknown>()
  const walk = (v: unknown, depth: number): string | undefined => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 6) return undefined
    seen.add(v)
    const o = v as Record<string, unknown>
    if (typeof o.data === 'string' && /^0x([0-9a-f]{2}){4,}$/i.test(o.data)) return o.data
    for (const key of ['error', 'info', 'cause', 'data']) {
      const found = walk(o[key], depth + 1)
      if (found !== undefined) return found
    }
    return undefined
  }
  return walk(err, 0)
}

const builtins = new Interface(['error Error(string)', 'error Panic(uint256)'])

/**
 * Decode a revert from an ethers error or a raw payload: custom errors of
 * any known artifact, Error(string) and Panic(uint256). An unknown selector
 * still decodes, with name `unknown(0x12345678)`, so callers always get a
 * name to report. Undefined when there is no revert payload at all.
 */
export function decodeRevert (err: unknown): DecodedRevert | undefined {
  const data = revertData(err)
  if (data === undefined) return undefined
  loadKnownErrors()
  const selector = data.slice(0, 10).toLowerCase()
  const known = bySelector.get(selector)
  try {
    if (known !== undefined) {
      const args = new Interface([known.fragment]).decodeErrorResult(known.fragment, data)
      return { name: known.fragment.name, args: [...args].map(jsonSafe), signature: known.fragment.format('sighash'), contracts: [...known.contracts].sort(), data }
    }
    const parsed = builtins.parseError(data)
    if (parsed !== null) return { name: parsed.name, args: [...parsed.args].map(jsonSafe), signature: parsed.signature, contracts: [], data }
  } catch { /* selector matched but the payload is malformed: report it as unknown */ }
  return { name: `unknown(${selector})`, args: [], contracts: [], data }
}

/**
 * A transaction or call that the EVM reverted. Never worth retrying: the
 * same input on the same state reverts again.
 */
export class RevertError extends VerimeshError {
  /** Decoded custom error name ('Error', 'Panic', `unknown(0x…)` or 'Reverted' without payload). */
  readonly errorName: string
  readonly errorArgs: unknown[]

  constructor (operation: string, decoded: DecodedRevert | undefined, context: Record<string, unknown>, cause?: unknown) {
    const name = decoded?.name ?? 'Reverted'
    const args = decoded?.args ?? []
    super('CHAIN_ERROR', `${operation} reverted with ${name}(${args.map(String).join(', ')})`, {
      ...context, operation, reverted: true, error: name, args, ...(decoded?.signature !== undefined ? { signature: decoded.signature } : {})
    }, { cause })
    this.name = 'RevertError'
    this.errorName = name
    this.errorArgs = args
  }
}

/** True when `err` is (or wraps) an EVM revert rather than a transport or node failure. */
export function isRevert (err: unknown): boolean {
  if (err instanceof RevertError) return true
  if (isError(err, 'CALL_EXCEPTION')) return true
  const msg = (err as { message?: unknown } | undefined)?.message
  return revertData(err) !== undefined && typeof msg === 'string' && /revert/i.test(msg)
}

/** Turn a failure into a RevertError when it is a revert, else CHAIN_ERROR with the ethers code. */
export function chainFailure (operation: string, err: unknown, context: Record<string, unknown> = {}): VerimeshError {
  if (err instanceof VerimeshError) return err
  if (isRevert(err)) return new RevertError(operation, decodeRevert(err), context, err)
  const code = (err as { code?: unknown } | undefined)?.code
  const message = (err as { shortMessage?: string } | undefined)?.shortMessage ?? (err instanceof Error ? err.message : String(err))
  return new VerimeshError('CHAIN_ERROR', `${operation} failed: ${message}`, { ...context, operation, ethersCode: typeof code === 'string' ? code : undefined }, { cause: err })
}
