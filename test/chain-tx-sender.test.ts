// TxSender against the real embedded chain, behind a fault-injecting JSON-RPC
// proxy defined here: the proxy fails, loses or drops chosen calls; the chain
// and the sender are the product code, unmocked.
import test from 'ava'
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Interface, Transaction, Wallet, keccak256, makeError, type JsonRpcProvider } from 'ethers'

import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { deploySettlement, loadArtifact } from '../runtime/chain/contracts.js'
import { RevertError } from '../runtime/chain/revert.js'
import { TxSender, backoffDelay, bumpFees, classifyError, type TxEvent, type TxSenderOptions } from '../runtime/chain/tx-sender.js'
import { isVerimeshError } from '../runtime/errors.js'

// ---- fault-injecting proxy ---------------------------------------------------

type Fault = 'http503' | 'reset' | 'lose' | 'drop' | { error: { code: number, message: string } }
interface Rule { method: string, fault: Fault, times: number }
interface RpcCall { jsonrpc: '2.0', id: number, method: string, params?: unknown[] }

class FaultProxy {
  readonly rules: Rule[] = []
  readonly calls = new Map<string, number>()
  readonly raw: string[] = []
  private server!: Server
  url = ''

  constructor (private readonly target: string) {}

  async start (): Promise<void> {
    this.server = createServer((req, res) => { void this.handle(req, res) })
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  inject (method: string, fault: Fault, times = 1): void { this.rules.push({ method, fault, times }) }
  count (method: string): number { return this.calls.get(method) ?? 0 }
  clear (): void { this.rules.length = 0 }

  private take (method: string): Fault | undefined {
    const rule = this.rules.find((r) => r.method === method && r.times > 0)
    if (rule === undefined) return undefined
    rule.times--
    return rule.fault
  }

  private async forward (body: string): Promise<string> {
    return await new Promise((resolve, reject) => {
      const req = httpRequest(this.target, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const parsed = JSON.parse(body) as RpcCall | RpcCall[]
    const batch = Array.isArray(parsed) ? parsed : [parsed]
    const faults = batch.map((c) => {
      this.calls.set(c.method, this.count(c.method) + 1)
      if (c.method === 'eth_sendRawTransaction') this.raw.push(String(c.params?.[0]))
      return this.take(c.method)
    })
    // Whole-request faults: the HTTP exchange fails for every call in it.
    if (faults.includes('http503')) { res.writeHead(503).end('unavailable'); return }
    if (faults.includes('reset')) { req.socket.destroy(); return }
    const answers: unknown[] = []
    const pass: RpcCall[] = []
    batch.forEach((c, i) => {
      const f = faults[i]
      if (f === 'drop' && c.method === 'eth_sendRawTransaction') answers[i] = { jsonrpc: '2.0', id: c.id, result: keccak256(String(c.params?.[0])) }
      else if (typeof f === 'object') answers[i] = { jsonrpc: '2.0', id: c.id, error: f.error }
      else pass.push(c)
    })
    if (pass.length > 0) {
      const out = JSON.parse(await this.forward(JSON.stringify(pass))) as Array<{ id: number }>
      for (const a of out) answers[batch.findIndex((c) => c.id === a.id)] = a
    }
    // 'lose': the node did the work, the client never hears back.
    if (faults.includes('lose')) { req.socket.destroy(); return }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.isArray(parsed) ? answers : answers[0]))
  }
}

// ---- fixture -------------------------------------------------------------------

let chain: EmbeddedChain
let direct: JsonRpcProvider
let settlement: string
const iface = new Interface(loadArtifact('Settlement').abi)

test.before(async () => {
  chain = await startEmbeddedChain({ accounts: 12 })
  direct = connectProvider(chain.url, { chainId: chain.chainId })
  const owner = new Wallet(chain.accounts[0]!.privateKey, direct)
  settlement = await deploySettlement(owner, { validators: chain.accounts.slice(1, 4).map((a) => a.address), threshold: 2 })
})

test.after.always(async () => {
  direct?.destroy()
  await chain?.stop()
})

interface Rig { proxy: FaultProxy, provider: JsonRpcProvider, sender: TxSender, events: TxEvent[], wallet: Wallet, next: (type: TxEvent['type']) => Promise<TxEvent>, stop: () => Promise<void> }

/** A proxy, a provider through it and a sender for dev account `account`, which only this test uses. */
async function rig (account: number, opts: TxSenderOptions = {}): Promise<Rig> {
  const proxy = new FaultProxy(chain.url)
  await proxy.start()
  const provider = connectProvider(proxy.url, { chainId: chain.chainId, pollingInterval: 20 })
  const wallet = new Wallet(chain.accounts[account]!.privateKey, provider)
  const events: TxEvent[] = []
  const waiters: Array<{ type: TxEvent['type'], resolve: (e: TxEvent) => void }> = []
  const onEvent = (e: TxEvent): void => {
    events.push(e)
    for (const w of waiters.splice(0).filter((w) => { if (w.type !== e.type) waiters.push(w); return w.type === e.type })) w.resolve(e)
  }
  const next = async (type: TxEvent['type']): Promise<TxEvent> => await new Promise((resolve) => waiters.push({ type, resolve }))
  const sender = await TxSender.create(wallet, {
    pollIntervalMs: 20, baseDelayMs: 5, maxDelayMs: 50, resendAfterMs: 250, random: () => 0.5, onEvent, ...opts
  })
  return { proxy, provider, sender, events, wallet, next, stop: async () => { provider.destroy(); await proxy.stop() } }
}

/** A call anyone may send that does not revert: a view function as a transaction. */
const harmless = (): string => iface.encodeFunctionData('threshold')
/** Owner-only: from anyone but account 0 it reverts with NotOwner(caller). */
const ownerOnly = (): string => iface.encodeFunctionData('setThreshold', [2])

async function nonceOf (address: string): Promise<number> {
  return await direct.getTransactionCount(address, 'latest')
}

// ---- pure helpers ----------------------------------------------------------------

test('backoff doubles up to the cap; jitter stays inside the randomised fraction', (t) => {
  const o = { baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.5 }
  t.is(backoffDelay(1, o, () => 1), 100)
  t.is(backoffDelay(2, o, () => 1), 200)
  t.is(backoffDelay(3, o, () => 0), 200)
  t.is(backoffDelay(10, o, () => 1), 1000)
  t.is(backoffDelay(10, o, () => 0), 500)
  t.is(backoffDelay(1, { ...o, jitter: 0 }, () => 0), 100)
})

test('fee bump is at least 12.5%, rounds up, and follows the market when it moved more', (t) => {
  const old = { maxFeePerGas: 1000n, maxPriorityFeePerGas: 7n, legacy: false }
  const calm = { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n, legacy: false }
  t.deepEqual(bumpFees(old, calm, 5), { maxFeePerGas: 1125n, maxPriorityFeePerGas: 8n, legacy: false })
  t.deepEqual(bumpFees(old, calm, 50), { maxFeePerGas: 1500n, maxPriorityFeePerGas: 11n, legacy: false })
  t.is(bumpFees(old, { maxFeePerGas: 5000n, maxPriorityFeePerGas: 100n, legacy: false }, 12.5).maxFeePerGas, 5000n)
})

test('error classes: reverts and funds are final, transport failures transient', (t) => {
  t.is(classifyError(makeError('execution reverted', 'CALL_EXCEPTION', { action: 'estimateGas', data: '0x12345678', reason: null, transaction: { to: null, data: '0x' }, invocation: null, revert: null })), 'revert')
  t.is(classifyError(makeError('nonce has already been used', 'NONCE_EXPIRED')), 'nonce')
  t.is(classifyError(makeError('replacement fee too low', 'REPLACEMENT_UNDERPRICED')), 'underpriced')
  t.is(classifyError(makeError('insufficient funds', 'INSUFFICIENT_FUNDS', { transaction: {} })), 'fatal')
  t.is(classifyError(makeError('server response 503', 'SERVER_ERROR')), 'transient')
  t.is(classifyError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'transient')
  t.is(classifyError(new Error('already known')), 'known')
  t.is(classifyError(new Error('something else')), 'fatal')
})

// ---- against the chain -------------------------------------------------------------

test('sends, waits for the receipt and reports the outcome and events', async (t) => {
  const r = await rig(4)
  try {
    const before = await nonceOf(r.wallet.address)
    const out = await r.sender.send({ to: settlement, data: harmless(), label: 'threshold as tx' })
    const receipt = await direct.getTransactionReceipt(out.txHash)
    t.is(receipt?.blockNumber, out.blockNumber)
    t.is(receipt?.gasUsed, out.gasUsed)
    t.is(out.nonce, before)
    t.true(out.confirmations >= 1)
    t.is(out.transactions, 1)
    t.deepEqual(r.events.map((e) => e.type), ['submitted', 'mined', 'confirmed'])
  } finally { await r.stop() }
})

test('a revert at estimation is decoded from the ABI and never retried', async (t) => {
  const r = await rig(5)
  try {
    const err = await t.throwsAsync(r.sender.send({ to: settlement, data: ownerOnly(), label: 'setThreshold' }))
    t.true(err instanceof RevertError)
    t.is((err as RevertError).errorName, 'NotOwner')
    t.deepEqual((err as RevertError).errorArgs, [r.wallet.address])
    t.is(r.proxy.count('eth_estimateGas'), 1)
    t.is(r.proxy.count('eth_sendRawTransaction'), 0)
    t.false(r.events.some((e) => e.type === 'retry'))
  } finally { await r.stop() }
})

test('a revert in a mined transaction (no estimate) is replayed and decoded', async (t) => {
  const r = await rig(1)
  try {
    const err = await t.throwsAsync(r.sender.send({ to: settlement, data: ownerOnly(), gasLimit: 200_000n }))
    t.true(err instanceof RevertError)
    t.is((err as RevertError).errorName, 'NotOwner')
    t.is(typeof (err as RevertError).context.txHash, 'string')
  } finally { await r.stop() }
})

test('transient failures of estimation and broadcast are retried; one transaction lands', async (t) => {
  const r = await rig(6)
  try {
    const before = await nonceOf(r.wallet.address)
    r.proxy.inject('eth_estimateGas', 'http503', 2)
    r.proxy.inject('eth_sendRawTransaction', 'reset', 1)
    const out = await r.sender.send({ to: settlement, data: harmless() })
    t.is(await nonceOf(r.wallet.address), before + 1)
    t.is(out.nonce, before)
    const retries = r.events.filter((e): e is Extract<TxEvent, { type: 'retry' }> => e.type === 'retry')
    t.deepEqual(retries.map((e) => e.stage), ['estimateGas', 'estimateGas', 'broadcast'])
    t.is(r.proxy.count('eth_estimateGas'), 3)
  } finally { await r.stop() }
})

test('a broadcast whose answer is lost is not sent twice', async (t) => {
  const r = await rig(7)
  try {
    const before = await nonceOf(r.wallet.address)
    r.proxy.inject('eth_sendRawTransaction', 'lose', 1)
    const out = await r.sender.send({ to: settlement, data: harmless() })
    const second = await r.sender.send({ to: settlement, data: harmless() })
    t.is(await nonceOf(r.wallet.address), before + 2)
    t.deepEqual([out.nonce, second.nonce], [before, before + 1])
    // Every raw transaction the proxy saw for the first nonce is the same bytes.
    const firstNonce = r.proxy.raw.filter((raw) => Transaction.from(raw).nonce === before)
    t.is(new Set(firstNonce).size, 1)
  } finally { await r.stop() }
})

test('"nonce too low" resyncs the nonce and sends again', async (t) => {
  const r = await rig(8)
  try {
    r.proxy.inject('eth_sendRawTransaction', { error: { code: -32000, message: 'nonce too low: next nonce 5, tx nonce 4' } }, 1)
    const before = await nonceOf(r.wallet.address)
    const out = await r.sender.send({ to: settlement, data: harmless() })
    t.is(out.nonce, before)
    t.is(r.proxy.count('eth_sendRawTransaction'), 2)
  } finally { await r.stop() }
})

test('a dropped transaction is re-sent with the same nonce and fees bumped >= 12.5%', async (t) => {
  const r = await rig(9)
  try {
    const before = await nonceOf(r.wallet.address)
    r.proxy.inject('eth_sendRawTransaction', 'drop', 1)
    const out = await r.sender.send({ to: settlement, data: harmless() })
    t.is(out.nonce, before)
    t.is(out.transactions, 2)
    const resend = r.events.find((e) => e.type === 'resend')
    t.is(resend?.type === 'resend' ? resend.reason : undefined, 'dropped')
    const [first, second] = r.proxy.raw.map((raw) => Transaction.from(raw))
    t.is(first?.nonce, second?.nonce)
    t.true((second!.maxFeePerGas! * 1000n) >= first!.maxFeePerGas! * 1125n)
    t.true((second!.maxPriorityFeePerGas! * 1000n) >= first!.maxPriorityFeePerGas! * 1125n)
    t.is((await direct.getTransaction(out.txHash))?.nonce, before)
  } finally { await r.stop() }
})

test('"replacement transaction underpriced" bumps the fees and sends again', async (t) => {
  const r = await rig(2)
  try {
    r.proxy.inject('eth_sendRawTransaction', { error: { code: -32000, message: 'replacement transaction underpriced' } }, 1)
    const out = await r.sender.send({ to: settlement, data: harmless() })
    const [first, second] = r.proxy.raw.map((raw) => Transaction.from(raw))
    t.true(second!.maxFeePerGas! * 1000n >= first!.maxFeePerGas! * 1125n)
    t.is(keccak256(r.proxy.raw[1]!), out.txHash)
  } finally { await r.stop() }
})

test('a nonce taken by someone else\'s transaction fails instead of hanging', async (t) => {
  const r = await rig(10, { maxResends: 3 })
  try {
    r.proxy.inject('eth_sendRawTransaction', 'drop', 1)
    r.proxy.inject('eth_sendRawTransaction', 'drop', 10)
    const submitted = r.next('submitted')
    const pending = r.sender.send({ to: settlement, data: harmless() })
    await submitted
    // The same key, used directly against the node, takes the nonce first.
    const other = new Wallet(chain.accounts[10]!.privateKey, direct)
    await (await other.sendTransaction({ to: other.address, value: 1n })).wait()
    const err = await t.throwsAsync(pending)
    t.true(isVerimeshError(err, 'CHAIN_ERROR'))
    t.is((err as unknown as { context: Record<string, unknown> }).context.replaced, true)
  } finally { await r.stop() }
})

// Serial: blocks mined by the other tests would count as confirmations here.
test.serial('waits for the configured confirmations', async (t) => {
  const r = await rig(11, { confirmations: 3 })
  try {
    const mined = r.next('mined')
    const pending = r.sender.send({ to: settlement, data: harmless() })
    let settled = false
    void pending.then(() => { settled = true }, () => { settled = true })
    await mined
    await direct.send('evm_mine', [])
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.false(settled, 'resolved with 2 of 3 confirmations')
    await direct.send('evm_mine', [])
    const out = await pending
    t.true(out.confirmations >= 3)
    t.true(await direct.getBlockNumber() - out.blockNumber + 1 >= 3)
  } finally { await r.stop() }
})

test('no more than maxInFlight transactions at once; all land with consecutive nonces', async (t) => {
  const r = await rig(3, { maxInFlight: 2, confirmations: 2 })
  try {
    const before = await nonceOf(r.wallet.address)
    let most = 0
    let sawWaiting = false
    const watch = setInterval(() => {
      most = Math.max(most, r.sender.inFlight)
      sawWaiting ||= r.sender.waiting > 0
      // Blocks on top, so confirmations keep coming while transactions wait.
      void direct.send('evm_mine', []).catch(() => undefined)
    }, 15)
    const outs = await Promise.all(Array.from({ length: 5 }, async () => await r.sender.send({ to: settlement, data: harmless() })))
    clearInterval(watch)
    t.true(most <= 2)
    t.true(sawWaiting)
    t.deepEqual(outs.map((o) => o.nonce).sort((a, b) => a - b), [0, 1, 2, 3, 4].map((i) => before + i))
  } finally { await r.stop() }
})
