// The chain itself: EVM state, block building and the indexes the JSON-RPC
// methods read (blocks, receipts, logs). Everything here speaks bigint and
// Uint8Array; hex formatting is methods.ts's job.
//
// One queue (`lock`) orders every operation that touches EVM state: mining,
// eth_call/eth_estimateGas (they run inside a journal checkpoint that is
// reverted afterwards) and state reads. Transactions from many HTTP clients, in
// many OS processes, are therefore applied one at a time in arrival order, and
// a nonce read from `pending` already counts everything accepted before it.
import { createBlock, type Block } from '@ethereumjs/block'
import { createCustomCommon, Hardfork, Mainnet, type Common } from '@ethereumjs/common'
import type { EVMMockBlockchainInterface, Log } from '@ethereumjs/evm'
import { createLegacyTx, createTxFromRLP, type TypedTransaction } from '@ethereumjs/tx'
import { Account, bytesToHex, createAddressFromString, createZeroAddress, type Address } from '@ethereumjs/util'
import { buildBlock, createVM, runTx, type RunTxResult, type VM } from '@ethereumjs/vm'
import { AbiCoder } from 'ethers'

import { RpcCode, RpcError } from './rpc-error.js'
import { TxPool, type PoolTx } from './tx-pool.js'

/** The fork the chain runs; contracts are compiled for the same target. */
export const HARDFORK = Hardfork.Cancun

export type BlockTag = 'latest' | 'pending' | 'earliest' | 'safe' | 'finalized' | bigint | { blockHash: string }

export interface EvmNodeOptions {
  chainId: bigint
  /** Accounts funded in the genesis state. */
  genesisAccounts: Array<{ address: string, balance: bigint }>
  /** Default 30,000,000. */
  blockGasLimit?: bigint
  /** Genesis base fee; default 1 gwei (London's initial base fee). */
  initialBaseFee?: bigint
  /** Receives priority fees; default the zero address. */
  coinbase?: string
}

export interface StoredLog {
  address: string
  topics: string[]
  data: string
  logIndex: number
  blockNumber: bigint
  blockHash: string
  transactionHash: string
  transactionIndex: number
}

export interface StoredReceipt {
  transactionHash: string
  transactionIndex: number
  blockHash: string
  blockNumber: bigint
  from: string
  to: string | null
  contractAddress: string | null
  gasUsed: bigint
  cumulativeGasUsed: bigint
  effectiveGasPrice: bigint
  status: 0 | 1
  logs: StoredLog[]
  logsBloom: string
  type: number
}

export interface MinedBlock {
  block: Block
  hash: string
  number: bigint
  receipts: StoredReceipt[]
  /** Senders, in transaction order (recovering them again costs an ecrecover each). */
  senders: string[]
}

export interface CallRequest {
  from?: string
  to?: string
  gas?: bigint
  value?: bigint
  data?: Uint8Array
}

export interface LogFilter {
  fromBlock?: BlockTag
  toBlock?: BlockTag
  blockHash?: string
  /** lower-case addresses; empty or absent = any */
  addresses?: string[]
  /** per position: null = any, else one of the lower-case topics */
  topics?: Array<string[] | null>
}

export interface FeeHistory {
  oldestBlock: bigint
  baseFeePerGas: bigint[]
  gasUsedRatio: number[]
  reward?: bigint[][]
}

/** Serialises async work: each call runs after the previous one settled. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve()

  run<T> (fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn)
    this.tail = result.catch(() => undefined)
    return result
  }
}

/** BLOCKHASH and block lookups inside the EVM read our block list. */
class BlockList implements EVMMockBlockchainInterface {
  constructor (private readonly blocks: MinedBlock[]) {}
  async getBlock (n: number): Promise<{ hash: () => Uint8Array }> {
    const b = this.blocks[Number(n)]
    if (b === undefined) throw new Error(`block ${n} not found`)
    return b.block
  }

  async putBlock (): Promise<void> {}
  shallowCopy (): EVMMockBlockchainInterface { return this }
}

const ZERO32 = new Uint8Array(32)
const ERROR_STRING_SELECTOR = '0x08c379a0'

/** runTx throws plain Errors; map the ones a client can act on to geth's wording. */
function rejection (err: unknown): RpcError {
  const raw = err instanceof Error ? err.message : String(err)
  // ethereumjs appends " -> block number=... tx=..." context; keep the cause.
  const msg = raw.split(' -> ')[0] ?? raw
  if (/enough funds/i.test(msg)) return new RpcError(RpcCode.SERVER, `insufficient funds for gas * price + value: ${msg}`)
  if (/INTRINSIC_GAS_TOO_LOW/.test(msg)) return new RpcError(RpcCode.SERVER, `intrinsic gas too low: ${msg}`)
  if (/less than the block's baseFeePerGas/.test(msg)) return new RpcError(RpcCode.SERVER, `max fee per gas less than block base fee: ${msg}`)
  if (/higher gas limit than the remaining gas/.test(msg)) return new RpcError(RpcCode.SERVER, 'exceeds block gas limit')
  if (/correct nonce/.test(msg)) return new RpcError(RpcCode.SERVER, `invalid nonce: ${msg}`)
  return new RpcError(RpcCode.SERVER, msg)
}

/** The JSON-RPC error for a call whose execution failed (geth's shapes). */
function executionError (result: RunTxResult): RpcError {
  const err = result.execResult.exceptionError
  const data = bytesToHex(result.execResult.returnValue)
  if (err?.error === 'revert') {
    let reason = ''
    if (data.startsWith(ERROR_STRING_SELECTOR)) {
      try {
        reason = ': ' + String(AbiCoder.defaultAbiCoder().decode(['string'], '0x' + data.slice(10))[0])
      } catch { /* not a well-formed Error(string): leave the message bare */ }
    }
    return new RpcError(RpcCode.EXECUTION_REVERTED, `execution reverted${reason}`, data)
  }
  return new RpcError(RpcCode.SERVER, err?.error ?? 'execution failed')
}

function effectiveGasPrice (tx: TypedTransaction, baseFee: bigint): bigint {
  if ('maxFeePerGas' in tx) {
    const tip = tx.maxPriorityFeePerGas < tx.maxFeePerGas - baseFee ? tx.maxPriorityFeePerGas : tx.maxFeePerGas - baseFee
    return baseFee + tip
  }
  return (tx as unknown as { gasPrice: bigint }).gasPrice
}

export class EvmNode {
  readonly chainId: bigint
  readonly common: Common
  readonly blockGasLimit: bigint
  /** Seconds added to the wall clock by evm_increaseTime. */
  private timeOffset = 0n
  /** The earliest time the next block may carry (head time + the last increase). */
  private minNextTimestamp = 0n
  private readonly coinbase: Address
  private readonly blocksByHash = new Map<string, MinedBlock>()
  private readonly txLocation = new Map<string, { blockNumber: number, index: number }>()
  private readonly pool = new TxPool()
  private readonly queue = new Queue()
  private closed = false

  // `blocks` is shared with the VM's BlockList so BLOCKHASH sees mined blocks.
  private constructor (private readonly vm: VM, private readonly blocks: MinedBlock[], common: Common, opts: EvmNodeOptions) {
    this.chainId = opts.chainId
    this.common = common
    this.blockGasLimit = opts.blockGasLimit ?? 30_000_000n
    this.coinbase = opts.coinbase !== undefined ? createAddressFromString(opts.coinbase) : createZeroAddress()
  }

  static async create (opts: EvmNodeOptions): Promise<EvmNode> {
    const common = createCustomCommon({ chainId: Number(opts.chainId), name: 'verimesh-dev' }, Mainnet, { hardfork: HARDFORK })
    const blocks: MinedBlock[] = []
    const vm = await createVM({ common, blockchain: new BlockList(blocks), activatePrecompiles: true })
    const node = new EvmNode(vm, blocks, common, opts)

    for (const a of opts.genesisAccounts) {
      await vm.stateManager.putAccount(createAddressFromString(a.address), new Account(0n, a.balance))
    }
    const genesis = createBlock({
      header: {
        number: 0n,
        gasLimit: node.blockGasLimit,
        timestamp: BigInt(Math.floor(Date.now() / 1000)),
        baseFeePerGas: opts.initialBaseFee ?? 1_000_000_000n,
        stateRoot: await vm.stateManager.getStateRoot(),
        coinbase: node.coinbase,
        parentBeaconBlockRoot: ZERO32
      }
    }, { common })
    node.appendBlock(genesis, [])
    return node
  }

  // ---- blocks --------------------------------------------------------------

  head (): MinedBlock {
    return this.blocks[this.blocks.length - 1] as MinedBlock
  }

  /** Undefined for a number past the head or an unknown hash. */
  findBlock (tag: BlockTag): MinedBlock | undefined {
    if (typeof tag === 'bigint') return this.blocks[Number(tag)]
    if (typeof tag === 'object') return this.blocksByHash.get(tag.blockHash.toLowerCase())
    if (tag === 'earliest') return this.blocks[0]
    // No reorgs here: latest, pending, safe and finalized all mean the head.
    return this.head()
  }

  private requireBlock (tag: BlockTag): MinedBlock {
    const b = this.findBlock(tag)
    if (b === undefined) throw new RpcError(RpcCode.SERVER, 'header not found')
    return b
  }

  private appendBlock (block: Block, txs: Array<{ tx: TypedTransaction, from: string, result: RunTxResult }>): MinedBlock {
    const hash = bytesToHex(block.hash())
    const number = block.header.number
    const baseFee = block.header.baseFeePerGas ?? 0n
    let logIndex = 0
    const receipts = txs.map(({ tx, from, result }, index): StoredReceipt => {
      const transactionHash = bytesToHex(tx.hash())
      const logs = result.receipt.logs.map(([address, topics, data]: Log): StoredLog => ({
        address: bytesToHex(address),
        topics: topics.map((t) => bytesToHex(t)),
        data: bytesToHex(data),
        logIndex: logIndex++,
        blockNumber: number,
        blockHash: hash,
        transactionHash,
        transactionIndex: index
      }))
      return {
        transactionHash,
        transactionIndex: index,
        blockHash: hash,
        blockNumber: number,
        from,
        to: tx.to?.toString() ?? null,
        contractAddress: tx.to === undefined ? (result.createdAddress?.toString() ?? null) : null,
        gasUsed: result.totalGasSpent,
        cumulativeGasUsed: result.receipt.cumulativeBlockGasUsed,
        effectiveGasPrice: effectiveGasPrice(tx, baseFee),
        status: 'status' in result.receipt ? result.receipt.status : 1,
        logs,
        logsBloom: bytesToHex(result.bloom.bitvector),
        type: tx.type
      }
    })
    const mined: MinedBlock = { block, hash, number, receipts, senders: txs.map((t) => t.from) }
    this.blocks.push(mined)
    this.blocksByHash.set(hash, mined)
    receipts.forEach((r, index) => this.txLocation.set(r.transactionHash, { blockNumber: Number(number), index }))
    return mined
  }

  /**
   * Build and append one block holding `ptxs` (automine passes one). Returns
   * the rejection for each transaction that could not be included (bad
   * nonce, funds, gas); a reverted transaction is included with status 0.
   */
  private async mine (ptxs: PoolTx[]): Promise<Array<RpcError | undefined>> {
    const parent = this.head()
    const timestamp = this.nextTimestamp(parent.block.header.timestamp)
    const builder = await buildBlock(this.vm, {
      parentBlock: parent.block,
      headerData: { timestamp, coinbase: this.coinbase, gasLimit: this.blockGasLimit, parentBeaconBlockRoot: ZERO32 },
      blockOpts: { putBlockIntoBlockchain: false }
    })
    const included: Array<{ tx: TypedTransaction, from: string, result: RunTxResult }> = []
    const outcome: Array<RpcError | undefined> = []
    for (const p of ptxs) {
      try {
        included.push({ tx: p.tx, from: p.from, result: await builder.addTransaction(p.tx) })
        outcome.push(undefined)
      } catch (err) {
        // runTx reverted its own checkpoint: the block is unaffected.
        outcome.push(rejection(err))
      }
    }
    if (included.length === 0 && ptxs.length > 0) {
      await builder.revert()
      return outcome
    }
    let block: Block
    try {
      ({ block } = await builder.build())
    } catch (err) {
      // Never leave the journal checkpoint open: later blocks would build on it.
      await builder.revert()
      throw err
    }
    this.appendBlock(block, included)
    return outcome
  }

  /** Mine an empty block (evm_mine). */
  async mineEmpty (count = 1): Promise<MinedBlock> {
    return this.queue.run(async () => {
      for (let i = 0; i < count; i++) await this.mine([])
      return this.head()
    })
  }

  /**
   * The next block's time: wall clock plus evm_increaseTime offsets, and strictly
   * later than its parent, as Ethereum requires (under a burst of transactions the
   * chain clock runs ahead of the wall clock).
   */
  private nextTimestamp (parent: bigint): bigint {
    const now = BigInt(Math.floor(Date.now() / 1000)) + this.timeOffset
    const floor = this.minNextTimestamp > parent + 1n ? this.minNextTimestamp : parent + 1n
    return now > floor ? now : floor
  }

  /**
   * Move the chain clock forward (tests of challenge windows, unbonding, timelocks).
   * Later blocks carry wall-clock time plus every offset added so far.
   */
  increaseTime (seconds: bigint): bigint {
    if (seconds < 0n) throw new RpcError(RpcCode.INVALID_PARAMS, `cannot move time backwards (${seconds} s)`)
    this.timeOffset += seconds
    // Counted from the head too: after a burst of blocks the chain clock runs ahead of
    // the wall clock, and "N seconds later" must still mean N seconds after the head.
    const fromHead = this.head().block.header.timestamp + seconds
    if (fromHead > this.minNextTimestamp) this.minNextTimestamp = fromHead
    return this.timeOffset
  }

  // ---- transactions --------------------------------------------------------

  /** Decode, check and queue a signed transaction; resolves with its hash once mined (or parked). */
  async sendRawTransaction (raw: Uint8Array): Promise<string> {
    if (this.closed) throw new RpcError(RpcCode.SERVER, 'chain is stopping')
    let tx: TypedTransaction
    try {
      tx = createTxFromRLP(raw, { common: this.common })
    } catch (err) {
      throw new RpcError(RpcCode.SERVER, `invalid transaction: ${err instanceof Error ? err.message : String(err)}`)
    }
    if (!tx.isSigned() || !tx.verifySignature()) throw new RpcError(RpcCode.SERVER, 'invalid sender: bad signature')
    const ptx: PoolTx = { tx, hash: bytesToHex(tx.hash()), from: tx.getSenderAddress().toString(), nonce: tx.nonce }
    if (this.txLocation.has(ptx.hash) || this.pool.has(ptx.hash)) throw new RpcError(RpcCode.SERVER, 'already known')

    this.pool.markInflight(ptx.from, ptx.nonce)
    return this.queue.run(async () => {
      try {
        const next = await this.stateNonce(this.vm, ptx.from)
        if (ptx.nonce < next) throw new RpcError(RpcCode.SERVER, `nonce too low: next nonce ${next}, tx nonce ${ptx.nonce}`)
        if (ptx.nonce > next) {
          try {
            this.pool.park(ptx)
          } catch (err) {
            throw new RpcError(RpcCode.SERVER, err instanceof Error ? err.message : String(err))
          }
          return ptx.hash
        }
        const [rejected] = await this.mine([ptx])
        if (rejected !== undefined) throw rejected
        await this.promoteParked(ptx.from)
        return ptx.hash
      } finally {
        this.pool.clearInflight(ptx.from, ptx.nonce)
      }
    })
  }

  /** After `from` advanced, mine its parked transactions that are now next in line. */
  private async promoteParked (from: string): Promise<void> {
    for (;;) {
      const next = await this.stateNonce(this.vm, from)
      this.pool.dropStale(from, next)
      const ptx = this.pool.take(from, next)
      if (ptx === undefined) return
      // Its HTTP request was answered when it was parked; a rejection now
      // (e.g. the funds ran out) just drops it, as a real node would.
      await this.mine([ptx])
    }
  }

  getTransaction (hash: string): { tx: TypedTransaction, from: string, mined?: { block: MinedBlock, index: number } } | undefined {
    const key = hash.toLowerCase()
    const loc = this.txLocation.get(key)
    if (loc !== undefined) {
      const block = this.blocks[loc.blockNumber] as MinedBlock
      return { tx: block.block.transactions[loc.index] as TypedTransaction, from: block.senders[loc.index] as string, mined: { block, index: loc.index } }
    }
    const p = this.pool.get(key)
    return p === undefined ? undefined : { tx: p.tx, from: p.from }
  }

  getReceipt (hash: string): StoredReceipt | undefined {
    const loc = this.txLocation.get(hash.toLowerCase())
    return loc === undefined ? undefined : this.blocks[loc.blockNumber]?.receipts[loc.index]
  }

  // ---- state ---------------------------------------------------------------

  /**
   * Run `fn` against the state after block `tag`, inside the queue. The head
   * uses the live VM; an older block gets a copy rewound to its state root
   * (the trie keeps old nodes: nothing is pruned in memory).
   */
  private async withState<T> (tag: BlockTag, fn: (vm: VM, at: MinedBlock) => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      const at = this.requireBlock(tag)
      if (at === this.head()) return fn(this.vm, at)
      const vm = await this.vm.shallowCopy()
      await vm.stateManager.setStateRoot(at.block.header.stateRoot)
      return fn(vm, at)
    })
  }

  private async stateNonce (vm: VM, address: string): Promise<bigint> {
    return (await vm.stateManager.getAccount(createAddressFromString(address)))?.nonce ?? 0n
  }

  async getBalance (address: string, tag: BlockTag): Promise<bigint> {
    return this.withState(tag, async (vm) => (await vm.stateManager.getAccount(createAddressFromString(address)))?.balance ?? 0n)
  }

  async getNonce (address: string, tag: BlockTag): Promise<bigint> {
    const from = address.toLowerCase()
    return this.withState(tag === 'pending' ? 'latest' : tag, async (vm) => {
      const n = await this.stateNonce(vm, from)
      return tag === 'pending' ? this.pool.pendingNonce(from, n) : n
    })
  }

  async getCode (address: string, tag: BlockTag): Promise<Uint8Array> {
    return this.withState(tag, async (vm) => vm.stateManager.getCode(createAddressFromString(address)))
  }

  async getStorageAt (address: string, slot: Uint8Array, tag: BlockTag): Promise<Uint8Array> {
    return this.withState(tag, async (vm) => {
      const v = await vm.stateManager.getStorage(createAddressFromString(address), slot)
      const out = new Uint8Array(32)
      out.set(v, 32 - v.length)
      return out
    })
  }

  /** One execution of `req` with `gasLimit`, rolled back afterwards. */
  private async execute (vm: VM, at: MinedBlock, req: CallRequest, gasLimit: bigint, pending = false): Promise<RunTxResult> {
    // An unsigned legacy transaction with gas price 0 and a stubbed sender,
    // run under a zero base fee: geth's eth_call semantics (no fee, no nonce
    // or balance checks), but through runTx so intrinsic gas, access lists
    // and refunds count exactly as they would for the real transaction.
    const tx = createLegacyTx({ gasLimit, gasPrice: 0n, to: req.to as `0x${string}` | undefined, value: req.value ?? 0n, data: req.data ?? new Uint8Array() }, { common: this.common, freeze: false })
    const from = req.from !== undefined ? createAddressFromString(req.from) : createZeroAddress()
    ;(tx as { getSenderAddress: () => Address }).getSenderAddress = () => from
    const h = at.block.header
    const block = createBlock({
      // An estimate for the pending block runs in that block's context (number, time), as
      // geth's does: a call gated on a deadline must estimate as it will execute.
      header: pending
        ? { number: h.number + 1n, timestamp: this.nextTimestamp(h.timestamp), gasLimit: h.gasLimit, coinbase: h.coinbase, mixHash: h.mixHash, baseFeePerGas: 0n, parentHash: at.block.hash(), parentBeaconBlockRoot: ZERO32 }
        : { number: h.number, timestamp: h.timestamp, gasLimit: h.gasLimit, coinbase: h.coinbase, mixHash: h.mixHash, baseFeePerGas: 0n, parentHash: h.parentHash, parentBeaconBlockRoot: ZERO32 }
    }, { common: this.common })
    await vm.evm.journal.checkpoint()
    try {
      return await runTx(vm, { tx, block, skipNonce: true, skipBalance: true, skipBlockGasLimitValidation: true })
    } catch (err) {
      throw rejection(err)
    } finally {
      await vm.evm.journal.revert()
    }
  }

  /** eth_call: the return data, or an RpcError carrying the revert data. */
  async call (req: CallRequest, tag: BlockTag): Promise<Uint8Array> {
    return this.withState(tag, async (vm, at) => {
      const result = await this.execute(vm, at, req, req.gas ?? this.blockGasLimit)
      if (result.execResult.exceptionError !== undefined) throw executionError(result)
      return result.execResult.returnValue
    })
  }

  /** eth_estimateGas: the smallest gas limit with which `req` succeeds. */
  async estimateGas (req: CallRequest, tag: BlockTag): Promise<bigint> {
    const pending = tag === 'pending'
    return this.withState(tag, async (vm, at) => {
      const cap = req.gas ?? this.blockGasLimit
      const first = await this.execute(vm, at, req, cap, pending)
      if (first.execResult.exceptionError !== undefined) {
        const e = executionError(first)
        if (e.code === RpcCode.EXECUTION_REVERTED || req.gas === undefined) throw e
        throw new RpcError(RpcCode.SERVER, `gas required exceeds allowance (${cap})`)
      }
      // Gas consumed before the refund is what the limit must cover. It
      // usually suffices; it does not when a CALL needed the 1/64 that the
      // caller must keep back (EIP-150): then search upwards.
      const needed = first.totalGasSpent + first.gasRefund
      const ok = async (g: bigint): Promise<boolean> => (await this.execute(vm, at, req, g, pending).catch(() => undefined))?.execResult.exceptionError === undefined
      if (needed >= cap || await ok(needed)) return needed < cap ? needed : cap
      // Each nested call keeps 1/64 back, so the answer is usually needed·(64/63)^depth:
      // try a few depths before a wider search. Each try re-runs the whole call (a
      // settlement batch runs a pairing), so a plain binary search over [needed, cap]
      // took seconds; geth's 1.5 % tolerance bounds the rest the same way.
      let lo = needed
      let hi = 0n
      for (let depth = 1, g = needed; depth <= 4 && hi === 0n; depth++) {
        g = g * 64n / 63n + 1n
        if (g >= cap) break
        if (await ok(g)) hi = g
        else lo = g
      }
      for (let g = lo; hi === 0n;) {
        g = g * 2n < cap ? g * 2n : cap
        if (await ok(g)) hi = g
        else if (g === cap) throw new RpcError(RpcCode.SERVER, `gas required exceeds allowance (${cap})`)
        else lo = g
      }
      while (hi - lo > hi / 64n && hi - lo > 1n) {
        const mid: bigint = (lo + hi) / 2n
        if (await ok(mid)) hi = mid
        else lo = mid
      }
      return hi
    })
  }

  // ---- logs and fees -------------------------------------------------------

  getLogs (filter: LogFilter): StoredLog[] {
    let fromN: number
    let toN: number
    if (filter.blockHash !== undefined) {
      const b = this.findBlock({ blockHash: filter.blockHash })
      if (b === undefined) throw new RpcError(RpcCode.SERVER, 'unknown block')
      fromN = toN = Number(b.number)
    } else {
      // A range reaching past the head is clipped to it, as geth does.
      const headN = Number(this.head().number)
      const toNumber = (tag: BlockTag): number => typeof tag === 'bigint'
        ? Math.min(Number(tag), headN + 1)
        : Number(this.requireBlock(tag).number)
      fromN = toNumber(filter.fromBlock ?? 'latest')
      toN = Math.min(toNumber(filter.toBlock ?? 'latest'), headN)
    }
    const out: StoredLog[] = []
    const addresses = filter.addresses !== undefined && filter.addresses.length > 0 ? new Set(filter.addresses) : undefined
    const topics = filter.topics ?? []
    for (let n = fromN; n <= toN; n++) {
      for (const r of (this.blocks[n] as MinedBlock).receipts) {
        for (const log of r.logs) {
          if (addresses !== undefined && !addresses.has(log.address)) continue
          // Position i: null or [] matches anything, else any of the listed topics.
          if (topics.some((want, i) => want !== null && want.length > 0 && !want.includes(log.topics[i] ?? ''))) continue
          out.push(log)
        }
      }
    }
    return out
  }

  /** Base fee the next block will have. */
  nextBaseFee (): bigint {
    return this.head().block.header.calcNextBaseFee()
  }

  feeHistory (blockCount: number, newest: BlockTag, percentiles?: number[]): FeeHistory {
    const last = this.requireBlock(newest)
    const count = Math.max(0, Math.min(blockCount, 1024, Number(last.number) + 1))
    const oldest = last.number - BigInt(count) + 1n
    const baseFeePerGas: bigint[] = []
    const gasUsedRatio: number[] = []
    const reward: bigint[][] = []
    for (let n = Number(oldest); n <= Number(last.number); n++) {
      const b = this.blocks[n] as MinedBlock
      const baseFee = b.block.header.baseFeePerGas ?? 0n
      baseFeePerGas.push(baseFee)
      gasUsedRatio.push(Number(b.block.header.gasUsed) / Number(b.block.header.gasLimit))
      if (percentiles !== undefined) {
        // Tips by transaction count rather than by gas: good enough for a dev chain.
        const tips = b.receipts.map((r) => r.effectiveGasPrice - baseFee).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
        reward.push(percentiles.map((p) => tips.length === 0 ? 0n : tips[Math.min(tips.length - 1, Math.floor((p / 100) * tips.length))] as bigint))
      }
    }
    baseFeePerGas.push(last.block.header.calcNextBaseFee())
    return percentiles === undefined ? { oldestBlock: oldest, baseFeePerGas, gasUsedRatio } : { oldestBlock: oldest, baseFeePerGas, gasUsedRatio, reward }
  }

  /** Refuse new transactions and wait for the queue to drain. */
  async close (): Promise<void> {
    this.closed = true
    await this.queue.run(async () => undefined)
  }
}
