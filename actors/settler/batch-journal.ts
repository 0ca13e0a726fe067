// What a settler keeps of every batch it settled: where each receipt sits (leaf, Merkle
// proof) and every payout with its proof, until all are claimed. Written when the batch
// is confirmed, so a restarted settler still claims the payouts of batches it settled
// before, and an operator can prove a receipt's inclusion later. One JSON file per batch.

import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { getAddress } from 'ethers'
import { VerimeshError } from '../../runtime/errors.js'
import type { Batch } from '../../runtime/chain/batch.js'

export interface JournalPayout { account: string, kind: number, amount: string, proof: string[], claimed: boolean }

export interface JournalEntry {
  version: 1
  chainId: number
  settlement: string
  batchId: string
  epoch: string
  txHash: string
  blockNumber: number
  /** Unix seconds; payouts are claimable after it. */
  challengeDeadline: number
  receiptsRoot: string
  payoutsRoot: string
  receipts: Array<{ requestId: string, leafHash: string, proof: string[] }>
  payouts: JournalPayout[]
}

export function journalEntryOf (batch: Batch, at: { chainId: number, settlement: string, txHash: string, blockNumber: number, challengeDeadline: number }): JournalEntry {
  return {
    version: 1,
    chainId: at.chainId,
    settlement: getAddress(at.settlement),
    batchId: batch.batchId.toString(10),
    epoch: batch.header.epoch.toString(10),
    txHash: at.txHash,
    blockNumber: at.blockNumber,
    challengeDeadline: at.challengeDeadline,
    receiptsRoot: batch.header.receiptsRoot,
    payoutsRoot: batch.header.payoutsRoot,
    receipts: batch.receipts.map((r, i) => ({ requestId: r.requestId, leafHash: batch.receiptLeafHash(i), proof: batch.receiptProof(i) })),
    payouts: batch.payouts.map((p) => ({ account: p.account, kind: p.kind, amount: p.amount.toString(10), proof: batch.payoutProof(p.account, p.kind), claimed: false }))
  }
}

export interface BatchJournal {
  save: (entry: JournalEntry) => void
  /** Entries of this chain and contract with a payout not yet claimed. */
  unclaimed: (chainId: number, settlement: string) => JournalEntry[]
}

/** A directory of `batch-<chainId>-<settlement>-<id>.json` files, each replaced atomically. */
export class FileBatchJournal implements BatchJournal {
  constructor (readonly dir: string) {
    try {
      mkdirSync(dir, { recursive: true })
    } catch (err) {
      throw new VerimeshError('CONFIG_INVALID', `cannot create the settler's batch journal ${dir}: ${(err as Error).message}`, { dir }, { cause: err })
    }
  }

  #file (e: Pick<JournalEntry, 'chainId' | 'settlement' | 'batchId'>): string {
    return path.join(this.dir, `batch-${e.chainId}-${e.settlement.toLowerCase()}-${e.batchId}.json`)
  }

  save (entry: JournalEntry): void {
    const file = this.#file(entry)
    writeFileSync(`${file}.tmp`, JSON.stringify(entry, null, 1) + '\n')
    renameSync(`${file}.tmp`, file)
  }

  unclaimed (chainId: number, settlement: string): JournalEntry[] {
    const prefix = `batch-${chainId}-${settlement.toLowerCase()}-`
    const out: JournalEntry[] = []
    for (const name of readdirSync(this.dir)) {
      if (!name.startsWith(prefix) || !name.endsWith('.json')) continue
      try {
        const e = JSON.parse(readFileSync(path.join(this.dir, name), 'utf8')) as JournalEntry
        if (e.version === 1 && e.payouts.some((p) => !p.claimed)) out.push(e)
      } catch {
        // A torn or foreign file: skipped, never deleted (an operator may want to look).
      }
    }
    return out.sort((a, b) => Number(BigInt(a.batchId) - BigInt(b.batchId)))
  }
}
