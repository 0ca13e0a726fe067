// Errors are typed values: a stable machine-readable code, a human message and
// the context needed to act on it. They cross process boundaries through
// toWire/fromWire so a remote failure reads the same as a local one.

export const ErrorCodes = [
  // actor runtime
  'ASK_TIMEOUT', 'MAILBOX_FULL', 'NO_SUCH_ACTOR', 'ACTOR_STOPPED', 'ACTOR_CRASHED',
  'NAME_TAKEN', 'SYSTEM_STOPPED',
  // wire protocol
  'MALFORMED_FRAME', 'FRAME_TOO_LARGE', 'UNSUPPORTED_VERSION', 'UNKNOWN_MESSAGE_TYPE',
  'SCHEMA_INVALID', 'PEER_UNREACHABLE', 'TRANSPORT_CLOSED',
  // configuration and loading
  'CONFIG_INVALID', 'ROLE_UNKNOWN', 'ROLE_LOAD_FAILED', 'ADDON_UNAVAILABLE',
  // models and the engine
  'MODEL_INVALID', 'MODEL_CORRUPT', 'ENGINE_INPUT_INVALID',
  // protocol semantics
  'BAD_SIGNATURE', 'REQUEST_INVALID', 'NO_CLUSTER', 'EXECUTION_FAILED', 'VERIFICATION_FAILED',
  'DEADLINE_EXCEEDED', 'SETTLEMENT_FAILED', 'CHAIN_ERROR',
  // batched settlement: an item no batch can take, a client that cannot pay, a quorum
  // that did not co-sign with enough stake
  'RECEIPT_INVALID', 'INSUFFICIENT_DEPOSIT', 'QUORUM_UNAVAILABLE',
  // proofs: circuits or backend missing, a full prover queue, a witness the circuit
  // rejects, a prover that failed or crashed
  'PROVER_UNAVAILABLE', 'PROVER_BUSY', 'PROOF_INPUT_INVALID', 'PROOF_FAILED',
  'INTERNAL'
] as const

export type ErrorCode = typeof ErrorCodes[number]

export interface WireError {
  code: ErrorCode
  message: string
  context?: Record<string, unknown>
}

export class VerimeshError extends Error {
  readonly code: ErrorCode
  readonly context: Record<string, unknown>

  constructor (code: ErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VerimeshError'
    this.code = code
    this.context = context
  }

  toWire (): WireError {
    return { code: this.code, message: this.message, context: this.context }
  }

  static fromWire (wire: WireError, extra: Record<string, unknown> = {}): VerimeshError {
    const code = (ErrorCodes as readonly string[]).includes(wire.code) ? wire.code : 'INTERNAL'
    return new VerimeshError(code, wire.message, { ...(wire.context ?? {}), ...extra, remote: true })
  }

  /** Wrap anything thrown into a VerimeshError, keeping one that already is. */
  static from (err: unknown, code: ErrorCode = 'INTERNAL', context: Record<string, unknown> = {}): VerimeshError {
    if (err instanceof VerimeshError) return err
    const message = err instanceof Error ? err.message : String(err)
    return new VerimeshError(code, message, context, { cause: err })
  }
}

export function isVerimeshError (err: unknown, code?: ErrorCode): err is VerimeshError {
  return err instanceof VerimeshError && (code === undefined || err.code === code)
}
