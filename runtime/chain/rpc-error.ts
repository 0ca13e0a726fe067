// JSON-RPC error values. Codes and messages follow geth, because client
// libraries match on them: ethers turns "nonce too low" into NONCE_EXPIRED,
// "insufficient funds" into INSUFFICIENT_FUNDS, and decodes custom errors only
// from an error whose message mentions "revert" and whose `data` is the raw
// revert payload.

export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL: -32603,
  /** geth's catch-all for rejected transactions and failed calls */
  SERVER: -32000,
  /** geth: execution reverted (eth_call / eth_estimateGas), `data` = revert bytes */
  EXECUTION_REVERTED: 3
} as const

export class RpcError extends Error {
  readonly code: number
  readonly data: unknown

  constructor (code: number, message: string, data?: unknown) {
    super(message)
    this.name = 'RpcError'
    this.code = code
    this.data = data
  }

  toJSON (): { code: number, message: string, data?: unknown } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data }
  }
}

export function invalidParams (message: string): RpcError {
  return new RpcError(RpcCode.INVALID_PARAMS, message)
}
