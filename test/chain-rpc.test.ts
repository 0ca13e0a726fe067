// The embedded chain as ethers sees it: provider basics, transactions,
// errors, batch JSON-RPC, logs and historical state.
import test from 'ava'
import {
  Contract, ContractFactory, Interface, Transaction, Wallet, id, isError, parseEther, zeroPadValue, type JsonRpcProvider
} from 'ethers'

import { loadArtifact } from '../runtime/chain/contracts.js'
import { DEV_BALANCE_WEI } from '../runtime/chain/dev-accounts.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'

let chain: EmbeddedChain
let provider: JsonRpcProvider

// Each test signs with its own dev account so tests can run concurrently
// without sharing nonces.
const wallet = (i: number): Wallet => new Wallet((chain.accounts[i] as { privateKey: string }).privateKey, provider)
const addr = (i: number): string => (chain.accounts[i] as { address: string }).address

interface RpcReply { jsonrpc: string, id: number | string | null, result?: unknown, error?: { code: number, message: string, data?: unknown } }

async function rpc (body: unknown): Promise<{ status: number, json: unknown }> {
  const res = await fetch(chain.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

test.before(async () => {
  chain = await startEmbeddedChain({ accounts: 12 })
  provider = connectProvider(chain.url)
})

test.after.always(async () => {
  provider?.destroy()
  await chain?.stop()
})

test('starts on loopback with prefunded deterministic accounts', async (t) => {
  t.regex(chain.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.is(chain.chainId, 31337)
  t.is(chain.accounts.length, 12)
  // Account 0 of the public dev mnemonic, as in Hardhat and anvil.
  t.is(addr(0), '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
  t.is(new Wallet((chain.accounts[0] as { privateKey: string }).privateKey).address, addr(0))
  t.is((await provider.getNetwork()).chainId, 31337n)
  t.is(await provider.getBalance(addr(11), 0), DEV_BALANCE_WEI)
  t.is(await provider.send('net_version', []), '31337')
  t.regex(await provider.send('web3_clientVersion', []) as string, /^verimesh-embedded/)
  t.deepEqual(await provider.send('eth_accounts', []), [])
  t.is(await provider.send('eth_syncing', []), false)
  const genesis = await provider.getBlock(0)
  t.truthy(genesis)
  t.is(genesis?.baseFeePerGas, 1_000_000_000n)
})

test('EIP-1559 transfer: mined at once, receipt, block and transaction lookups', async (t) => {
  const from = wallet(1)
  const to = Wallet.createRandom().address
  const before = await provider.getBlockNumber()
  const tx = await from.sendTransaction({ to, value: parseEther('1.5') })
  const receipt = await tx.wait()
  t.truthy(receipt)
  if (receipt === null) return
  t.is(receipt.status, 1)
  t.is(receipt.gasUsed, 21000n)
  t.true(receipt.gasPrice > 0n)
  t.true(receipt.blockNumber > before)
  t.is(receipt.from, addr(1))

  const block = await provider.getBlock(receipt.blockNumber, true)
  t.is(block?.hash, receipt.blockHash)
  t.deepEqual(block?.transactions, [tx.hash])
  t.is(block?.prefetchedTransactions[0]?.hash, tx.hash)
  t.is((await provider.getBlock(receipt.blockHash))?.number, receipt.blockNumber)

  const fetched = await provider.getTransaction(tx.hash)
  t.is(fetched?.from, addr(1))
  t.is(fetched?.value, parseEther('1.5'))
  t.is(fetched?.blockNumber, receipt.blockNumber)
  t.is(fetched?.type, 2)
  t.is(await provider.getTransactionCount(addr(1), 'latest'), 1)
  t.is(await provider.getBalance(to), parseEther('1.5'))
})

test('legacy (type 0) transactions are accepted', async (t) => {
  const from = wallet(3)
  const gasPrice = BigInt(await provider.send('eth_gasPrice', []) as string)
  const tx = await from.sendTransaction({ type: 0, to: addr(2), value: 1n, gasPrice })
  const receipt = await tx.wait()
  t.is(receipt?.status, 1)
  t.is((await provider.getTransaction(tx.hash))?.type, 0)
  t.is(receipt?.gasPrice, gasPrice)
})

test('JSON-RPC batch: replies by id, errors per entry, notifications get none', async (t) => {
  const { status, json } = await rpc([
    { jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] },
    { jsonrpc: '2.0', id: 'b', method: 'eth_getBalance', params: [addr(11), 'latest'] },
    { jsonrpc: '2.0', id: 3, method: 'eth_noSuchMethod', params: [] },
    { jsonrpc: '2.0', id: 4, method: 'eth_getBalance', params: ['0x1234', 'latest'] },
    { jsonrpc: '2.0', method: 'eth_blockNumber', params: [] },
    { id: 6, method: 'eth_chainId' }
  ])
  t.is(status, 200)
  const replies = json as RpcReply[]
  t.is(replies.length, 5)
  const byId = new Map(replies.map((r) => [r.id, r]))
  t.is(byId.get(1)?.result, '0x7a69')
  t.is(BigInt(byId.get('b')?.result as string), DEV_BALANCE_WEI)
  t.is(byId.get(3)?.error?.code, -32601)
  t.is(byId.get(4)?.error?.code, -32602)
  t.is(byId.get(6)?.error?.code, -32600)

  t.is(((await rpc('{not json')).json as RpcReply).error?.code, -32700)
  t.is(((await rpc([])).json as RpcReply).error?.code, -32600)
  t.is((await rpc({ jsonrpc: '2.0', method: 'eth_chainId', params: [] })).status, 204)
})

test('ethers batches its own concurrent reads into one request and gets every answer', async (t) => {
  const reads = await Promise.all([
    provider.getBalance(addr(10)), provider.getTransactionCount(addr(10)), provider.getBlockNumber(), provider.getCode(addr(10))
  ])
  t.is(reads[0], DEV_BALANCE_WEI)
  t.is(reads[1], 0)
  t.true(reads[2] >= 0)
  t.is(reads[3], '0x')
})

test('unknown method: -32601, which ethers reports as UNSUPPORTED_OPERATION', async (t) => {
  const { json } = await rpc({ jsonrpc: '2.0', id: 1, method: 'debug_traceTransaction', params: [] })
  t.is((json as RpcReply).error?.code, -32601)
  const err = await t.throwsAsync(provider.send('debug_traceTransaction', []))
  t.true(isError(err, 'UNSUPPORTED_OPERATION'))
})

test('nonce too low and insufficient funds come back as ethers error codes', async (t) => {
  const from = wallet(4)
  const first = await from.signTransaction(await from.populateTransaction({ to: addr(2), value: 1n }))
  await provider.broadcastTransaction(first)
  // Same nonce, different content: a distinct transaction reusing a spent nonce.
  const again = await from.signTransaction(await from.populateTransaction({ to: addr(2), value: 2n, nonce: 0 }))
  const low = await t.throwsAsync(provider.broadcastTransaction(again))
  t.true(isError(low, 'NONCE_EXPIRED'), String(low))

  const pauper = Wallet.createRandom().connect(provider)
  const poor = await t.throwsAsync(pauper.sendTransaction({ to: addr(2), value: 1n, gasLimit: 21000n }))
  t.true(isError(poor, 'INSUFFICIENT_FUNDS'), String(poor))
})

test('a future-nonce transaction waits for the gap, then both are mined in order', async (t) => {
  const from = wallet(5)
  const base = { to: addr(2), value: 1n, gasLimit: 21000n, maxFeePerGas: 10n ** 10n, maxPriorityFeePerGas: 10n ** 9n, chainId: 31337n, type: 2 }
  const tx1 = await from.signTransaction({ ...base, nonce: 1 })
  const tx0 = await from.signTransaction({ ...base, nonce: 0 })
  const hash1 = await provider.send('eth_sendRawTransaction', [tx1]) as string
  const hash0 = Transaction.from(tx0).hash ?? ''
  t.is(hash1, Transaction.from(tx1).hash ?? '')
  t.is(await provider.getTransactionReceipt(hash1), null)
  t.is((await provider.getTransaction(hash1))?.blockNumber, null)
  t.is(await provider.getTransactionCount(addr(5), 'pending'), 0)

  await provider.send('eth_sendRawTransaction', [tx0])
  const r0 = await provider.getTransactionReceipt(hash0)
  const r1 = await provider.getTransactionReceipt(hash1)
  t.is(r0?.status, 1)
  t.is(r1?.status, 1)
  t.true((r1?.blockNumber ?? 0) > (r0?.blockNumber ?? 0))
  t.is(await provider.getTransactionCount(addr(5), 'pending'), 2)
})

test('contract state: code, storage, eth_call, revert data decoded by ethers, logs by address and topics', async (t) => {
  const deployer = wallet(6)
  const artifact = loadArtifact('Settlement')
  const validators = [addr(7), addr(8), addr(9)]
  const contract = await (await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(validators, 2, addr(6))).waitForDeployment()
  const address = await contract.getAddress()
  const deployReceipt = await contract.deploymentTransaction()?.wait()
  t.is(deployReceipt?.contractAddress, address)

  t.not(await provider.getCode(address), '0x')
  // Slot 0: owner; slot 1: threshold (declaration order in Settlement.sol).
  t.is(await provider.getStorage(address, 0), zeroPadValue(addr(6), 32).toLowerCase())
  const validatorAdded = new Interface(artifact.abi).getEvent('ValidatorAdded')?.topicHash ?? ''
  t.is(BigInt(await provider.getStorage(address, 1)), 2n)
  t.is(await (contract as Contract).getFunction('threshold').staticCall(), 2n)

  // eth_call revert: ethers decodes the custom error from the revert data.
  const err = await t.throwsAsync((contract as Contract).getFunction('setThreshold').staticCall(5, { from: addr(6) }))
  t.true(isError(err, 'CALL_EXCEPTION'))
  t.is((err as { revert?: { name: string } }).revert?.name, 'InvalidThreshold')
  t.deepEqual((err as { revert?: { args: unknown[] } }).revert?.args.map(String), ['5', '3'])

  const iface = new Interface(artifact.abi)
  const block = deployReceipt?.blockNumber as number
  const all = await provider.getLogs({ address, fromBlock: block, toBlock: block })
  t.is(all.length, 5) // OwnershipTransferred, 3x ValidatorAdded, ThresholdChanged
  const added = await provider.getLogs({ address, fromBlock: 0, toBlock: 'latest', topics: [validatorAdded] })
  t.deepEqual(added.map((l) => iface.parseLog(l)?.args[0]), validators)
  const one = await provider.getLogs({ address, fromBlock: 0, topics: [validatorAdded, zeroPadValue(addr(8), 32)] })
  t.is(one.length, 1)
  t.is(one[0]?.transactionHash, deployReceipt?.hash ?? '')
  const either = await provider.getLogs({ address, fromBlock: 0, topics: [validatorAdded, [zeroPadValue(addr(7), 32), zeroPadValue(addr(9), 32)]] })
  t.is(either.length, 2)
  t.is((await provider.getLogs({ address: addr(2), fromBlock: 0 })).length, 0)
  t.is((await provider.getLogs({ address, fromBlock: 0, toBlock: block - 1 })).length, 0)
  const future = await rpc({ jsonrpc: '2.0', id: 1, method: 'eth_getLogs', params: [{ fromBlock: '0xffff', toBlock: '0xfffff' }] })
  t.deepEqual((future.json as RpcReply).result, [])
  t.is((await provider.getLogs({ blockHash: deployReceipt?.blockHash ?? '', topics: [id('ThresholdChanged(uint256,uint256)')] })).length, 1)
})

test('historical state: balances at earlier blocks', async (t) => {
  const from = wallet(10)
  const receipt = await (await from.sendTransaction({ to: addr(11), value: 7n })).wait()
  const n = receipt?.blockNumber as number
  t.is(await provider.getBalance(addr(11), n - 1), DEV_BALANCE_WEI)
  t.is(await provider.getBalance(addr(11), n), DEV_BALANCE_WEI + 7n)
  t.is(await provider.getTransactionCount(addr(10), n - 1), 0)
})

// Serial: it checks that evm_mine adds exactly one block, so nothing else may mine meanwhile.
test.serial('estimateGas, fee data, fee history, evm_mine', async (t) => {
  t.is(await provider.estimateGas({ from: addr(0), to: addr(1), value: 1n }), 21000n)
  const fees = await provider.getFeeData()
  t.true((fees.maxFeePerGas ?? 0n) > 0n)
  t.is(fees.maxPriorityFeePerGas, 1_000_000_000n)
  const before = await provider.getBlockNumber()
  for (let i = 0; i < 3; i++) await provider.send('evm_mine', [])
  t.is(await provider.getBlockNumber(), before + 3)
  t.is((await provider.getBlock('latest'))?.transactions.length, 0)
  const history = await provider.send('eth_feeHistory', ['0x3', 'latest', [50]]) as { baseFeePerGas: string[], gasUsedRatio: number[], reward: string[][] }
  t.is(history.baseFeePerGas.length, 4)
  t.is(history.gasUsedRatio.length, 3)
  t.is(history.reward.length, 3)
})
