// How a Receipt becomes the receipt circuit's input and its public commitment: both are
// defined once in circuits/ (the circuit's TypeScript side); this adapts them to the
// ProverService's ReceiptEncoding.

import { VerimeshError } from '../../runtime/errors.js'
import type { ReceiptEncoding } from './service.js'

export function defaultReceiptEncoding (): ReceiptEncoding {
  const missing = (): never => {
    throw new VerimeshError('PROVER_UNAVAILABLE', 'this build has no receipt circuit encoding (circuits/)')
  }
  return { receiptInput: missing, receiptPublicSignals: missing }
}
