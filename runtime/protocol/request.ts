// Client requests are EIP-712 typed data signed with an Ethereum key; the typed-data
// hash is the request id. Receipts are ABI-encoded and keccak-hashed so the settlement
// contract can check validators' signatures over exactly the same bytes.

import { AbiCoder, TypedDataEncoder, type BaseWallet, getBytes, keccak256, toUtf8Bytes, verifyMessage, verifyTypedData, type TypedDataDomain } from 'ethers'
import { VerimeshError } from '../errors.js'
import type { Attestation, InferenceRequest, Receipt } from './messages.js'

export const REQUEST_TYPES = {
  InferenceRequest: [
    { name: 'model', type: 'string' },
    { name: 'prompt', type: 'string' },
    { name: 'maxTokens', type: 'uint32' },
    { name: 'temperatureMilli', type: 'uint32' },
    { name: 'topK', type: 'uint32' },
    { name: 'topPMilli', type: 'uint32' },
    { name: 'seed', type: 'uint64' },
    { name: 'feeCap', type: 'uint256' },
    { name: 'latencyBoundMs', type: 'uint32' },
    { name: 'verification', type: 'string' },
    { name: 'nonce', type: 'uint256' },
    { name: 'deadline', type: 'uint64' },
    { name: 'client', type: 'address' }
  ]
}

export function requestDomain (chainId: number): TypedDataDomain {
  return { name: 'Verimesh', version: '1', chainId }
}

export function requestId (request: InferenceRequest, chainId: number): string {
  return TypedDataEncoder.hash(requestDomain(chainId), REQUEST_TYPES, request)
}

export async function signRequest (wallet: BaseWallet, request: InferenceRequest, chainId: number): Promise<string> {
  if (wallet.address.toLowerCase() !== request.client.toLowerCase()) {
    throw new VerimeshError('REQUEST_INVALID', 'request.client must be the signing wallet', { client: request.client, signer: wallet.address })
  }
  return await wallet.signTypedData(requestDomain(chainId), REQUEST_TYPES, request)
}

/** Throws BAD_SIGNATURE unless `signature` is the client's over `request`. */
export function verifyRequest (request: InferenceRequest, signature: string, chainId: number): void {
  let signer: string
  try {
    signer = verifyTypedData(requestDomain(chainId), REQUEST_TYPES, request, signature)
  } catch (err) {
    throw new VerimeshError('BAD_SIGNATURE', `request signature is malformed: ${(err as Error).message}`, { client: request.client })
  }
  if (signer.toLowerCase() !== request.client.toLowerCase()) {
    throw new VerimeshError('BAD_SIGNATURE', `request is signed by ${signer}, not by its client ${request.client}`, { client: request.client, signer })
  }
}

/** A model id on chain: keccak of its name until model roots exist (issue 3). */
export function modelIdOf (model: string): string {
  return keccak256(toUtf8Bytes(model))
}

const coder = AbiCoder.defaultAbiCoder()

export function receiptHash (r: Receipt): string {
  return keccak256(coder.encode(
    ['bytes32', 'bytes32', 'address', 'bytes32', 'bytes32', 'address[]', 'uint256'],
    [r.requestId, r.modelId, r.client, r.outputHash, r.traceHash, r.executors, BigInt(r.fee)]
  ))
}

/** EIP-191 signature over the 32-byte receipt hash, as Settlement.sol recovers it. */
export async function attest (wallet: BaseWallet, receipt: Receipt): Promise<Attestation> {
  const hash = receiptHash(receipt)
  return { validator: wallet.address, receiptHash: hash, signature: await wallet.signMessage(getBytes(hash)) }
}

export function verifyAttestation (a: Attestation, receipt: Receipt): void {
  const hash = receiptHash(receipt)
  if (a.receiptHash !== hash) {
    throw new VerimeshError('BAD_SIGNATURE', 'attestation is for a different receipt', { validator: a.validator, expected: hash, got: a.receiptHash })
  }
  let signer: string
  try {
    signer = verifyMessage(getBytes(hash), a.signature)
  } catch (err) {
    throw new VerimeshError('BAD_SIGNATURE', `attestation signature is malformed: ${(err as Error).message}`, { validator: a.validator })
  }
  if (signer.toLowerCase() !== a.validator.toLowerCase()) {
    throw new VerimeshError('BAD_SIGNATURE', `attestation signed by ${signer}, claims ${a.validator}`, { validator: a.validator, signer })
  }
}
