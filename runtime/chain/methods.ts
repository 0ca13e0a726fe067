// The Ethereum JSON-RPC methods the embedded chain serves: parameter parsing,
// dispatch to the EvmNode and hex formatting of the results. The set is what
// ethers v6's JsonRpcProvider, Wallet and Contract use, plus a few cheap
// neighbours (block/tx lookups by index, evm_mine).
import { Capability, type TypedTransaction } from '@ethereumjs/tx'
import { bytesToHex, hexToBytes } from '@ethereumjs/util'

import type { BlockTag, CallRequest, EvmNode, LogFilter, MinedBlock, StoredLog, StoredReceipt } from './evm-node.js'
import { invalidParams, RpcCode, RpcError } from './rpc-error.js'

export type RpcHandler = (params: unknown[]) => Promise<unknown> | unknown

/** Priority fee the node suggests: 1 gwei, what geth and Hardhat suggest too. */
export const SUGGESTED_TIP_WEI = 1_000_000_000n
export const CLIENT_VERSION = `verimesh-embedded/v0.1.0/ethereumjs-vm-10/node-${process.version}`

// ---- parsing ---------------------------------------------------------------

const HEX_DATA = /^0x([0-9a-f]{2})*$/i
const HEX_ADDRESS = /^0x[0-9a-f]{40}$/i
const HEX_HASH = /^0x[0-9a-f]{64}$/i

function quantity (v: unknown, name: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v)
  // Leading zeros are tolerated (some clients pad); geth is stricter.
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return BigInt(v)
  throw invalidParams(`${name}: expected a hex quantity, got ${JSON.stringify(v)}`)
}

function data (v: unknown, name: string): Uint8Array {
  if (typeof v === 'string' && HEX_DATA.test(v)) return hexToBytes(v as `0x${string}`)
  throw invalidParams(`${name}: expected hex data, got ${JSON.stringify(v)}`)
}

function address (v: unknown, name: string): string {
  if (typeof v === 'string' && HEX_ADDRESS.test(v)) return v.toLowerCase()
  throw invalidParams(`${name}: expected a 20-byte hex address, got ${JSON.stringify(v)}`)
}

function hash (v: unknown, name: string): string {
  if (typeof v === 'string' && HEX_HASH.test(v)) return v.toLowerCase()
  throw invalidParams(`${name}: expected a 32-byte hex hash, got ${JSON.stringify(v)}`)
}

function blockTag (v: unknown, fallback: BlockTag = 'latest'): BlockTag {
  if (v === undefined || v === null) return fallback
  if (v === 'latest' || v === 'pending' || v === 'earliest' || v === 'safe' || v === 'finalized') return v
  if (typeof v === 'object') {
    // EIP-1898: { blockNumber } or { blockHash, requireCanonical }
    const o = v as { blockNumber?: unknown, blockHash?: unknown }
    if (o.blockHash !== undefined) return { blockHash: hash(o.blockHash, 'blockHash') }
    if (o.blockNumber !== undefined) return blockTag(o.blockNumber)
  }
  return quantity(v, 'block')
}

function callRequest (v: unknown): CallRequest {
  if (typeof v !== 'object' || v === null) throw invalidParams('transaction: expected an object')
  const o = v as Record<string, unknown>
  const req: CallRequest = {}
  if (o.from !== undefined && o.from !== null) req.from = address(o.from, 'from')
  if (o.to !== undefined && o.to !== null) req.to = address(o.to, 'to')
  if (o.gas !== undefined && o.gas !== null) req.gas = quantity(o.gas, 'gas')
  if (o.value !== undefined && o.value !== null) req.value = quantity(o.value, 'value')
  // Fee fields are accepted and ignored: calls and estimates run fee-free.
  const input = o.input ?? o.data
  if (input !== undefined && input !== null) req.data = data(input, 'input')
  return req
}

function logFilter (v: unknown): LogFilter {
  if (typeof v !== 'object' || v === null) throw invalidParams('filter: expected an object')
  const o = v as Record<string, unknown>
  const f: LogFilter = {}
  if (o.blockHash !== undefined && o.blockHash !== null) {
    if (o.fromBlock !== undefined || o.toBlock !== undefined) throw invalidParams('filter: blockHash excludes fromBlock/toBlock')
    f.blockHash = hash(o.blockHash, 'blockHash')
  }
  if (o.fromBlock !== undefined) f.fromBlock = blockTag(o.fromBlock)
  if (o.toBlock !== undefined) f.toBlock = blockTag(o.toBlock)
  if (o.address !== undefined && o.address !== null) {
    f.addresses = (Array.isArray(o.address) ? o.address : [o.address]).map((a) => address(a, 'address'))
  }
  if (o.topics !== undefined && o.topics !== null) {
    if (!Array.isArray(o.topics)) throw invalidParams('topics: expected an array')
    f.topics = o.topics.map((t) => {
      if (t === null) return null
      return (Array.isArray(t) ? t : [t]).map((x) => hash(x, 'topic'))
    })
  }
  return f
}

// ---- formatting ------------------------------------------------------------

const q = (n: bigint | number): string => '0x' + n.toString(16)

function formatLog (l: StoredLog): Record<string, unknown> {
  return {
    address: l.address,
    topics: l.topics,
    data: l.data,
    logIndex: q(l.logIndex),
    blockNumber: q(l.blockNumber),
    blockHash: l.blockHash,
    transactionHash: l.transactionHash,
    transactionIndex: q(l.transactionIndex),
    removed: false
  }
}

function formatReceipt (r: StoredReceipt): Record<string, unknown> {
  return {
    transactionHash: r.transactionHash,
    transactionIndex: q(r.transactionIndex),
    blockHash: r.blockHash,
    blockNumber: q(r.blockNumber),
    from: r.from,
    to: r.to,
    contractAddress: r.contractAddress,
    gasUsed: q(r.gasUsed),
    cumulativeGasUsed: q(r.cumulativeGasUsed),
    effectiveGasPrice: q(r.effectiveGasPrice),
    status: q(r.status),
    logs: r.logs.map(formatLog),
    logsBloom: r.logsBloom,
    type: q(r.type)
  }
}

function formatTx (tx: TypedTransaction, from: string, mined?: { block: MinedBlock, index: number }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    hash: bytesToHex(tx.hash()),
    type: q(tx.type),
    nonce: q(tx.nonce),
    from,
    to: tx.to?.toString() ?? null,
    value: q(tx.value),
    gas: q(tx.gasLimit),
    input: bytesToHex(tx.data),
    v: q(tx.v ?? 0n),
    r: q(tx.r ?? 0n),
    s: q(tx.s ?? 0n),
    blockHash: mined?.block.hash ?? null,
    blockNumber: mined !== undefined ? q(mined.block.number) : null,
    transactionIndex: mined !== undefined ? q(mined.index) : null
  }
  if ('maxFeePerGas' in tx) {
    out.maxFeePerGas = q(tx.maxFeePerGas)
    out.maxPriorityFeePerGas = q(tx.maxPriorityFeePerGas)
    out.gasPrice = mined !== undefined ? q(mined.block.receipts[mined.index]?.effectiveGasPrice ?? tx.maxFeePerGas) : q(tx.maxFeePerGas)
  } else {
    out.gasPrice = q((tx as unknown as { gasPrice: bigint }).gasPrice)
  }
  if ('accessList' in tx) {
    out.accessList = tx.toJSON().accessList ?? []
    out.yParity = q(tx.v ?? 0n)
  }
  if (tx.type !== 0) out.chainId = q(tx.common.chainId())
  else if (tx.supports(Capability.EIP155ReplayProtection) && tx.v !== undefined && tx.v >= 35n) out.chainId = q((tx.v - 35n) / 2n)
  return out
}

function formatBlock (b: MinedBlock, fullTx: boolean): Record<string, unknown> {
  const h = b.block.header
  return {
    number: q(h.number),
    hash: b.hash,
    parentHash: bytesToHex(h.parentHash),
    nonce: bytesToHex(h.nonce),
    mixHash: bytesToHex(h.mixHash),
    sha3Uncles: bytesToHex(h.uncleHash),
    logsBloom: bytesToHex(h.logsBloom),
    transactionsRoot: bytesToHex(h.transactionsTrie),
    stateRoot: bytesToHex(h.stateRoot),
    receiptsRoot: bytesToHex(h.receiptTrie),
    miner: h.coinbase.toString(),
    difficulty: q(h.difficulty),
    totalDifficulty: '0x0',
    extraData: bytesToHex(h.extraData),
    size: q(b.block.serialize().length),
    gasLimit: q(h.gasLimit),
    gasUsed: q(h.gasUsed),
    timestamp: q(h.timestamp),
    baseFeePerGas: q(h.baseFeePerGas ?? 0n),
    withdrawalsRoot: h.withdrawalsRoot !== undefined ? bytesToHex(h.withdrawalsRoot) : undefined,
    withdrawals: [],
    blobGasUsed: q(h.blobGasUsed ?? 0n),
    excessBlobGas: q(h.excessBlobGas ?? 0n),
    parentBeaconBlockRoot: h.parentBeaconBlockRoot !== undefined ? bytesToHex(h.parentBeaconBlockRoot) : undefined,
    transactions: fullTx
      ? b.block.transactions.map((tx, index) => formatTx(tx, b.senders[index] as string, { block: b, index }))
      : b.receipts.map((r) => r.transactionHash),
    uncles: []
  }
}

function txAt (b: MinedBlock | undefined, index: bigint): Record<string, unknown> | null {
  const i = Number(index)
  const tx = b?.block.transactions[i]
  return b === undefined || tx === undefined ? null : formatTx(tx, b.senders[i] as string, { block: b, index: i })
}

// ---- the table -------------------------------------------------------------

export function createMethods (node: EvmNode): Record<string, RpcHandler> {
  return {
    web3_clientVersion: () => CLIENT_VERSION,
    net_version: () => node.chainId.toString(10),
    net_listening: () => true,
    net_peerCount: () => '0x0',
    eth_chainId: () => q(node.chainId),
    eth_syncing: () => false,
    eth_mining: () => false,
    // The node holds no keys: clients sign locally and use eth_sendRawTransaction.
    eth_accounts: () => [],
    eth_blockNumber: () => q(node.head().number),

    eth_gasPrice: () => q(node.nextBaseFee() + SUGGESTED_TIP_WEI),
    eth_maxPriorityFeePerGas: () => q(SUGGESTED_TIP_WEI),
    eth_feeHistory: ([count, newest, percentiles]) => {
      const p = percentiles === undefined || percentiles === null
        ? undefined
        : (Array.isArray(percentiles) && percentiles.every((x) => typeof x === 'number' && x >= 0 && x <= 100)
            ? percentiles as number[]
            : (() => { throw invalidParams('rewardPercentiles: expected numbers in [0, 100]') })())
      const h = node.feeHistory(Number(quantity(count, 'blockCount')), blockTag(newest), p)
      return {
        oldestBlock: q(h.oldestBlock),
        baseFeePerGas: h.baseFeePerGas.map(q),
        gasUsedRatio: h.gasUsedRatio,
        ...(h.reward !== undefined ? { reward: h.reward.map((r) => r.map(q)) } : {})
      }
    },

    eth_getBalance: async ([a, tag]) => q(await node.getBalance(address(a, 'address'), blockTag(tag))),
    eth_getTransactionCount: async ([a, tag]) => q(await node.getNonce(address(a, 'address'), blockTag(tag))),
    eth_getCode: async ([a, tag]) => bytesToHex(await node.getCode(address(a, 'address'), blockTag(tag))),
    eth_getStorageAt: async ([a, slot, tag]) => {
      const key = quantity(slot, 'slot')
      if (key >= 1n << 256n) throw invalidParams('slot: more than 32 bytes')
      const k = hexToBytes(('0x' + key.toString(16).padStart(64, '0')) as `0x${string}`)
      return bytesToHex(await node.getStorageAt(address(a, 'address'), k, blockTag(tag)))
    },

    eth_call: async ([tx, tag, overrides]) => {
      if (overrides !== undefined && overrides !== null && Object.keys(overrides).length > 0) {
        throw invalidParams('state overrides are not supported')
      }
      return bytesToHex(await node.call(callRequest(tx), blockTag(tag)))
    },
    eth_estimateGas: async ([tx, tag]) => q(await node.estimateGas(callRequest(tx), blockTag(tag, 'pending'))),
    eth_sendRawTransaction: async ([raw]) => node.sendRawTransaction(data(raw, 'transaction')),

    eth_getTransactionByHash: ([h]) => {
      const found = node.getTransaction(hash(h, 'hash'))
      return found === undefined ? null : formatTx(found.tx, found.from, found.mined)
    },
    eth_getTransactionReceipt: ([h]) => {
      const r = node.getReceipt(hash(h, 'hash'))
      return r === undefined ? null : formatReceipt(r)
    },
    eth_getTransactionByBlockNumberAndIndex: ([tag, i]) => txAt(node.findBlock(blockTag(tag)), quantity(i, 'index')),
    eth_getTransactionByBlockHashAndIndex: ([h, i]) => txAt(node.findBlock({ blockHash: hash(h, 'blockHash') }), quantity(i, 'index')),

    eth_getBlockByNumber: ([tag, full]) => {
      const b = node.findBlock(blockTag(tag))
      return b === undefined ? null : formatBlock(b, full === true)
    },
    eth_getBlockByHash: ([h, full]) => {
      const b = node.findBlock({ blockHash: hash(h, 'blockHash') })
      return b === undefined ? null : formatBlock(b, full === true)
    },
    eth_getBlockTransactionCountByNumber: ([tag]) => {
      const b = node.findBlock(blockTag(tag))
      return b === undefined ? null : q(b.receipts.length)
    },
    eth_getBlockTransactionCountByHash: ([h]) => {
      const b = node.findBlock({ blockHash: hash(h, 'blockHash') })
      return b === undefined ? null : q(b.receipts.length)
    },

    eth_getLogs: ([filter]) => node.getLogs(logFilter(filter)).map(formatLog),

    // Hardhat/anvil-compatible test controls: mine empty blocks, move the clock.
    evm_mine: async () => { await node.mineEmpty(); return '0x0' },
    hardhat_mine: async ([count]) => {
      const n = count === undefined ? 1n : quantity(count, 'count')
      if (n < 1n || n > 100_000n) throw invalidParams(`count: expected 1..100000 blocks, got ${n}`)
      await node.mineEmpty(Number(n))
      return true
    },
    evm_increaseTime: ([seconds]) => {
      return Number(node.increaseTime(quantity(seconds, 'seconds')))
    }
  }
}

/** Look up and run a method; unknown names get geth's -32601 wording (ethers maps it to UNSUPPORTED_OPERATION). */
export async function dispatch (methods: Record<string, RpcHandler>, method: string, params: unknown): Promise<unknown> {
  const handler = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : undefined
  if (handler === undefined) throw new RpcError(RpcCode.METHOD_NOT_FOUND, `the method ${method} does not exist/is not available`)
  if (params !== undefined && !Array.isArray(params)) throw invalidParams('params: expected an array')
  return handler((params ?? []) as unknown[])
}
