// The chain as its own OS process (chain-process.js) with two more OS
// processes sending transactions to it at the same time through ethers.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

import test from 'ava'
import { Wallet, type JsonRpcProvider } from 'ethers'

import { connectProvider } from '../runtime/chain/provider.js'

// dist/test/ -> repository root (node resolves 'ethers' from there for -e scripts)
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CHAIN_PROCESS = fileURLToPath(new URL('../runtime/chain/chain-process.js', import.meta.url))
const PER_PHASE = 8

interface ChainLine { url: string, chainId: number, accounts: Array<{ address: string, privateKey: string }> }

// Each sender process: phase 1 fires PER_PHASE transactions at once through
// ethers' NonceManager (the HTTP requests can reach the node out of order),
// phase 2 sends PER_PHASE more one after another with a plain Wallet, which
// asks the node for the pending nonce every time. batchMaxCount: 1 puts every
// request on its own HTTP request, as independent clients would, so a burst
// really can arrive out of nonce order. It prints one JSON line.
const SENDER = `
import { JsonRpcProvider, Network, NonceManager, Wallet } from 'ethers'
const { CHAIN_URL, KEY, TO, COUNT } = process.env
const network = Network.from(31337)
const provider = new JsonRpcProvider(CHAIN_URL, network, { staticNetwork: network, cacheTimeout: -1, pollingInterval: 50, batchMaxCount: 1 })
const wallet = new Wallet(KEY, provider)
const burst = new NonceManager(wallet)
const n = Number(COUNT)
// Start barrier: both processes begin sending together.
process.stdout.write('ready\\n')
await new Promise((resolve) => process.stdin.once('data', resolve))
const sent = await Promise.all(Array.from({ length: n }, (_, i) => burst.sendTransaction({ to: TO, value: BigInt(i + 1) })))
const receipts = await Promise.all(sent.map((tx) => tx.wait()))
for (let i = 0; i < n; i++) {
  const tx = await wallet.sendTransaction({ to: TO, value: 1000n + BigInt(i) })
  receipts.push(await tx.wait())
  sent.push(tx)
}
process.stdout.write(JSON.stringify({
  from: wallet.address,
  txs: sent.map((tx, i) => ({ hash: tx.hash, nonce: tx.nonce, status: receipts[i].status, block: receipts[i].blockNumber }))
}) + '\\n')
provider.destroy()
`

interface SenderReport { from: string, txs: Array<{ hash: string, nonce: number, status: number, block: number }> }

interface Sender { ready: Promise<void>, go: () => void, done: Promise<SenderReport> }

function startSender (url: string, key: string, to: string): Sender {
  const child = spawn(process.execPath, ['--input-type=module', '-e', SENDER], {
    cwd: ROOT,
    env: { ...process.env, CHAIN_URL: url, KEY: key, TO: to, COUNT: String(PER_PHASE) },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  let signalReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => { signalReady = resolve })
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    if (out.startsWith('ready\n')) signalReady()
  })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const done = new Promise<SenderReport>((resolve, reject) => {
    child.on('error', reject)
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.slice('ready\n'.length).trim()) as SenderReport)
      else reject(new Error(`sender exited with ${code}: ${err}`))
    })
  })
  return { ready: Promise.race([ready, done.then(() => {})]), go: () => { child.stdin.end('go\n') }, done }
}

async function startChainProcess (): Promise<{ child: ChildProcess, line: ChainLine, stderr: () => string }> {
  const child = spawn(process.execPath, [CHAIN_PROCESS, '--accounts', '4'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l as string),
    once(child, 'exit').then(([code]) => { throw new Error(`chain-process exited with ${String(code)} before printing: ${err}`) })
  ])
  return { child, line: JSON.parse(first) as ChainLine, stderr: () => err }
}

let chainProc: ChildProcess | undefined
let provider: JsonRpcProvider | undefined

test.after.always(() => {
  provider?.destroy()
  if (chainProc !== undefined && chainProc.exitCode === null) chainProc.kill('SIGKILL')
})

test('chain-process prints its endpoint; two sender processes get gap-free nonces; SIGTERM stops it', async (t) => {
  const started = performance.now()
  const { child, line, stderr } = await startChainProcess()
  chainProc = child
  t.log(`chain-process ready in ${(performance.now() - started).toFixed(0)} ms at ${line.url}`)
  t.regex(line.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.is(line.chainId, 31337)
  t.is(line.accounts.length, 4)
  t.is(line.accounts[0]?.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266')
  t.is(new Wallet(line.accounts[1]?.privateKey ?? '').address, line.accounts[1]?.address)

  provider = connectProvider(line.url, { chainId: line.chainId })
  const [a, b, sink] = [line.accounts[1], line.accounts[2], line.accounts[3]] as Array<{ address: string, privateKey: string }>
  const senders = [startSender(line.url, a.privateKey, sink.address), startSender(line.url, b.privateKey, sink.address)]
  await Promise.all(senders.map(async (s) => s.ready))
  const t0 = performance.now()
  for (const s of senders) s.go()
  const reports = await Promise.all(senders.map(async (s) => s.done))
  t.log(`2 processes x ${2 * PER_PHASE} transactions in ${(performance.now() - t0).toFixed(0)} ms`)

  for (const r of reports) {
    t.is(r.txs.length, 2 * PER_PHASE)
    t.true(r.txs.every((x) => x.status === 1))
    t.deepEqual(r.txs.map((x) => x.nonce).sort((x, y) => x - y), Array.from({ length: 2 * PER_PHASE }, (_, i) => i))
    t.is(await provider.getTransactionCount(r.from, 'latest'), 2 * PER_PHASE)
  }
  // Automine: one block per transaction, each holding exactly one of ours.
  const total = 4 * PER_PHASE
  t.is(await provider.getBlockNumber(), total)
  const blocks = await Promise.all(Array.from({ length: total }, async (_, i) => provider?.getBlock(i + 1, true)))
  t.true(blocks.every((blk) => blk?.transactions.length === 1))
  const order = blocks.map((blk) => blk?.prefetchedTransactions[0]?.from)
  t.is(order.filter((s) => s === a.address).length, 2 * PER_PHASE)
  // The two processes really overlapped: their transactions interleave.
  const switches = order.slice(1).filter((s, i) => s !== order[i]).length
  t.log(`block order by sender: ${order.map((s) => (s === a.address ? 'A' : 'B')).join('')}`)
  t.true(switches >= 2)
  // Value check: the sink got every transfer exactly once.
  const perSender = (PER_PHASE * (PER_PHASE + 1)) / 2 + PER_PHASE * 1000 + (PER_PHASE * (PER_PHASE - 1)) / 2
  t.is(await provider.getBalance(sink.address), 10_000n * 10n ** 18n + 2n * BigInt(perSender))

  child.kill('SIGTERM')
  const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null]
  t.is(code, 0, stderr())
  t.is(signal, null)
  t.regex(stderr(), /SIGTERM, stopping/)
})
