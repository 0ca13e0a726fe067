// Settlement.sol on the embedded chain through SettlementClient: deployment
// at the predicted address, recording with real validator signatures, every
// revert path by its custom error name, admin functions, concurrency.
import test from 'ava'
import {
  AbiCoder, concat, getBytes, hashMessage, Interface, keccak256, Signature, toBeHex, toUtf8Bytes, Wallet,
  type JsonRpcProvider, type TransactionRequest
} from 'ethers'

import { isVerimeshError, type VerimeshError } from '../runtime/errors.js'
import {
  DEV_SETTLEMENT_ADDRESS, SettlementClient, deploySettlement, loadArtifact, predictDeployAddress, signReceiptHash
} from '../runtime/chain/contracts.js'
import { devAccounts } from '../runtime/chain/dev-accounts.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'

const SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141n

let chain: EmbeddedChain
let provider: JsonRpcProvider
let client: SettlementClient
let validators: Wallet[]
const iface = new Interface(loadArtifact('Settlement').abi)

const signer = (i: number): Wallet => new Wallet((chain.accounts[i] as { privateKey: string }).privateKey, provider)
const receiptHash = (label: string): string => keccak256(toUtf8Bytes(`verimesh receipt ${label}`))
const sign = async (hash: string, signers: Wallet[]): Promise<string[]> => Promise.all(signers.map(async (w) => signReceiptHash(w, hash)))

/** Assert a SETTLEMENT_FAILED rejection naming `error`; returns it for further checks. */
async function rejectsWith (t: import('ava').ExecutionContext, p: Promise<unknown>, error: string): Promise<VerimeshError> {
  const err = await t.throwsAsync(p)
  t.true(isVerimeshError(err, 'SETTLEMENT_FAILED'), String(err))
  const e = err as VerimeshError
  t.is(e.context.error, error, e.message)
  return e
}

test.before(async () => {
  chain = await startEmbeddedChain({ accounts: 10 })
  provider = connectProvider(chain.url, { chainId: chain.chainId })
  // Validators only sign; they need no provider and no funds.
  validators = [1, 2, 3].map((i) => new Wallet((chain.accounts[i] as { privateKey: string }).privateKey))
  // The first transaction on a fresh chain, from account 0: nonce 0.
  const address = await deploySettlement(signer(0), { validators: validators.map((v) => v.address), threshold: 2 })
  client = SettlementClient.connect(address, signer(0))
})

test.after.always(async () => {
  provider?.destroy()
  await chain?.stop()
})

test('deploys at the predictable dev address with the configured validators', async (t) => {
  t.is(client.address, DEV_SETTLEMENT_ADDRESS)
  t.is(DEV_SETTLEMENT_ADDRESS, predictDeployAddress(devAccounts(1)[0]?.address ?? '', 0))
  t.is(await client.threshold(), 2n)
  t.is(await client.owner(), chain.accounts[0]?.address)
  for (const v of validators) t.true(await client.isValidator(v.address))
  t.false(await client.isValidator(chain.accounts[4]?.address ?? ''))
  const deployTx = (await provider.getBlock(1, true))?.prefetchedTransactions[0]
  const deployReceipt = await provider.getTransactionReceipt(deployTx?.hash ?? '')
  t.log(`gas: deploy Settlement (3 validators) = ${deployReceipt?.gasUsed}`)
})

test('recordReceipt with two validator signatures stores the receipt and emits ReceiptRecorded', async (t) => {
  const hash = receiptHash('two-sigs')
  const t0 = performance.now()
  const outcome = await client.recordReceipt(hash, await sign(hash, validators.slice(0, 2)))
  const ms = performance.now() - t0
  t.regex(outcome.txHash, /^0x[0-9a-f]{64}$/)
  t.true(outcome.blockNumber > 1)
  t.true(outcome.gasUsed > 21000n)

  const receipt = await provider.getTransactionReceipt(outcome.txHash)
  t.is(receipt?.status, 1)
  const events = (receipt?.logs ?? []).map((l) => iface.parseLog(l)).filter((e) => e?.name === 'ReceiptRecorded')
  t.is(events.length, 1)
  t.is(events[0]?.args.receiptHash, hash)
  t.is(events[0]?.args.submitter, chain.accounts[0]?.address)
  t.deepEqual([...events[0]?.args.signers ?? []], validators.slice(0, 2).map((v) => v.address))

  t.deepEqual(await client.receiptOf(hash), { recorded: true, blockNumber: outcome.blockNumber, submitter: chain.accounts[0]?.address ?? '' })
  t.deepEqual(await client.receiptOf(receiptHash('never')), { recorded: false, blockNumber: 0, submitter: null })
  t.log(`gas: recordReceipt with 2 signatures = ${outcome.gasUsed} (round trip ${ms.toFixed(0)} ms)`)
})

test('recordReceipt with three signatures (above threshold) also works', async (t) => {
  const hash = receiptHash('three-sigs')
  const outcome = await client.recordReceipt(hash, await sign(hash, validators))
  t.true((await client.receiptOf(hash)).recorded)
  t.log(`gas: recordReceipt with 3 signatures = ${outcome.gasUsed}`)
})

test('UnknownValidator: a signature by a non-validator', async (t) => {
  const hash = receiptHash('unknown')
  const outsider = new Wallet((chain.accounts[7] as { privateKey: string }).privateKey)
  const e = await rejectsWith(t, client.recordReceipt(hash, await sign(hash, [validators[0] as Wallet, outsider])), 'UnknownValidator')
  t.deepEqual(e.context.args, [outsider.address])
  t.is(e.context.receiptHash, hash)
  t.false((await client.receiptOf(hash)).recorded)
})

test('DuplicateSigner: the same validator twice does not count twice', async (t) => {
  const hash = receiptHash('duplicate')
  const [s] = await sign(hash, [validators[1] as Wallet])
  const e = await rejectsWith(t, client.recordReceipt(hash, [s as string, s as string]), 'DuplicateSigner')
  t.deepEqual(e.context.args, [validators[1]?.address])
})

test('NotEnoughSignatures: fewer signatures than the threshold', async (t) => {
  const hash = receiptHash('not-enough')
  const e = await rejectsWith(t, client.recordReceipt(hash, await sign(hash, [validators[0] as Wallet])), 'NotEnoughSignatures')
  t.deepEqual(e.context.args, ['1', '2'])
  await rejectsWith(t, client.recordReceipt(hash, []), 'NotEnoughSignatures')
})

test('ReceiptAlreadyRecorded: a hash is recorded once', async (t) => {
  const hash = receiptHash('twice')
  await client.recordReceipt(hash, await sign(hash, validators.slice(0, 2)))
  const e = await rejectsWith(t, client.recordReceipt(hash, await sign(hash, validators.slice(1, 3))), 'ReceiptAlreadyRecorded')
  t.deepEqual(e.context.args, [hash])
})

test('InvalidSignature: wrong length, bad v, high-s twin, zero r', async (t) => {
  const hash = receiptHash('malformed')
  const good = await sign(hash, validators.slice(0, 2))
  const sig = Signature.from(good[0] as string)
  const other = good[1] as string

  const truncated = getBytes(good[0] as string).slice(0, 64)
  const badV = concat([sig.r, sig.s, '0x1d']) // v = 29
  const rawParity = concat([sig.r, sig.s, toBeHex(sig.yParity, 1)]) // v = 0/1 (not 27/28)
  const zeroR = concat([toBeHex(0, 32), sig.s, toBeHex(sig.v, 1)])
  // The malleated twin (n - s, flipped v) recovers to the same signer with
  // plain ecrecover; the contract must refuse it.
  const twinS = toBeHex(SECP256K1_N - BigInt(sig.s), 32)
  const twinV = sig.v === 27 ? 28 : 27
  const highS = concat([sig.r, twinS, toBeHex(twinV, 1)])
  const raw = await provider.call({
    to: '0x0000000000000000000000000000000000000001',
    data: AbiCoder.defaultAbiCoder().encode(['bytes32', 'uint8', 'bytes32', 'bytes32'], [hashMessage(getBytes(hash)), twinV, sig.r, twinS])
  })
  t.is(AbiCoder.defaultAbiCoder().decode(['address'], raw)[0], validators[0]?.address, 'twin is valid for raw ecrecover')

  for (const [label, bad] of Object.entries({ truncated, badV, rawParity, zeroR, highS })) {
    const e = await rejectsWith(t, client.recordReceipt(hash, [bad, other]), 'InvalidSignature')
    t.pass(`${label}: ${e.message}`)
  }
  // The canonical pair still records.
  await client.recordReceipt(hash, good)
  t.true((await client.receiptOf(hash)).recorded)
})

test('a revert after estimation (mined with status 0) is decoded by replaying it', async (t) => {
  // B estimates successfully, then A records the same hash before B signs,
  // so B's transaction is mined and reverts. The client must still name the error.
  class HookedWallet extends Wallet {
    beforeSign: (() => Promise<void>) | undefined
    override async signTransaction (tx: TransactionRequest): Promise<string> {
      const hook = this.beforeSign
      this.beforeSign = undefined
      if (hook !== undefined) await hook()
      return super.signTransaction(tx)
    }
  }
  const hash = receiptHash('race-mined')
  const sigs = await sign(hash, validators.slice(0, 2))
  const b = new HookedWallet((chain.accounts[5] as { privateKey: string }).privateKey, provider)
  b.beforeSign = async () => { await client.recordReceipt(hash, sigs) }
  const e = await rejectsWith(t, SettlementClient.connect(client.address, b).recordReceipt(hash, sigs), 'ReceiptAlreadyRecorded')
  t.regex(String(e.context.txHash), /^0x[0-9a-f]{64}$/)
  const mined = await provider.getTransactionReceipt(String(e.context.txHash))
  t.is(mined?.status, 0)
  t.is((await client.receiptOf(hash)).submitter, chain.accounts[0]?.address)
})

test('two submitters racing for the same receipt: exactly one records it', async (t) => {
  const hash = receiptHash('race')
  const sigs = await sign(hash, validators.slice(0, 2))
  const results = await Promise.allSettled([
    client.recordReceipt(hash, sigs),
    SettlementClient.connect(client.address, signer(6)).recordReceipt(hash, sigs)
  ])
  t.is(results.filter((r) => r.status === 'fulfilled').length, 1)
  const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
  t.true(isVerimeshError(failed.reason, 'SETTLEMENT_FAILED'))
  t.is((failed.reason as VerimeshError).context.error, 'ReceiptAlreadyRecorded')
})

test('concurrent recordReceipt calls from one signer get distinct nonces', async (t) => {
  const hashes = Array.from({ length: 8 }, (_, i) => receiptHash(`concurrent-${i}`))
  const nonceBefore = await provider.getTransactionCount(chain.accounts[0]?.address ?? '', 'latest')
  const outcomes = await Promise.all(hashes.map(async (h) => client.recordReceipt(h, await sign(h, validators.slice(0, 2)))))
  t.is(new Set(outcomes.map((o) => o.blockNumber)).size, 8)
  for (const h of hashes) t.true((await client.receiptOf(h)).recorded)
  const nonces = await Promise.all(outcomes.map(async (o) => (await provider.getTransaction(o.txHash))?.nonce))
  t.is(new Set(nonces).size, 8)
  t.true((await provider.getTransactionCount(chain.accounts[0]?.address ?? '', 'latest')) >= nonceBefore + 8)
  const gas = outcomes.map((o) => o.gasUsed)
  t.log(`gas: recordReceipt x8 (2 signatures each) min ${gas.reduce((a, b) => (a < b ? a : b))} max ${gas.reduce((a, b) => (a > b ? a : b))}`)
})

test('owner manages validators and threshold, with events; others cannot', async (t) => {
  const owner = signer(8)
  const expected = predictDeployAddress(chain.accounts[8]?.address ?? '', await provider.getTransactionCount(chain.accounts[8]?.address ?? ''))
  const address = await deploySettlement(owner, { validators: validators.slice(0, 2).map((v) => v.address), threshold: 1 })
  t.is(address, expected)
  const admin = SettlementClient.connect(address, owner)
  const newcomer = chain.accounts[9]?.address ?? ''

  const added = await admin.addValidator(newcomer)
  const addedLogs = (await provider.getTransactionReceipt(added.txHash))?.logs.map((l) => iface.parseLog(l)) ?? []
  t.is(addedLogs[0]?.name, 'ValidatorAdded')
  t.is(addedLogs[0]?.args[0], newcomer)
  t.true(await admin.isValidator(newcomer))

  const raised = await admin.setThreshold(3)
  const thresholdLog = (await provider.getTransactionReceipt(raised.txHash))?.logs.map((l) => iface.parseLog(l))[0]
  t.is(thresholdLog?.name, 'ThresholdChanged')
  t.deepEqual([...thresholdLog?.args ?? []], [1n, 3n])

  // Removing one would leave 2 validators for a threshold of 3.
  await rejectsWith(t, admin.removeValidator(newcomer), 'InvalidThreshold')
  await rejectsWith(t, admin.setThreshold(0), 'InvalidThreshold')
  await rejectsWith(t, admin.addValidator(newcomer), 'ValidatorAlreadyRegistered')
  await admin.setThreshold(2)
  const removed = await admin.removeValidator(newcomer)
  t.is((await provider.getTransactionReceipt(removed.txHash))?.logs.map((l) => iface.parseLog(l)?.name)[0], 'ValidatorRemoved')
  t.false(await admin.isValidator(newcomer))

  const e = await rejectsWith(t, SettlementClient.connect(address, signer(7)).addValidator(newcomer), 'NotOwner')
  t.deepEqual(e.context.args, [chain.accounts[7]?.address])
  // Constructor checks surface the same way.
  const bad = await t.throwsAsync(deploySettlement(owner, { validators: [newcomer], threshold: 2 }))
  t.true(isVerimeshError(bad, 'SETTLEMENT_FAILED'))
  t.is((bad as VerimeshError).context.error, 'InvalidThreshold')
})

test('input checks: receipt hashes must be 32 bytes; reads need no signer', async (t) => {
  const err = await t.throwsAsync(client.recordReceipt('0x1234', []))
  t.true(isVerimeshError(err, 'REQUEST_INVALID'))
  const readOnly = SettlementClient.connect(client.address, provider)
  t.is(await readOnly.threshold(), 2n)
  const noSigner = await t.throwsAsync(readOnly.setThreshold(1))
  t.true(isVerimeshError(noSigner, 'CONFIG_INVALID'))
})
