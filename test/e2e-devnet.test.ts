// The whole path on real processes: a GGUF model imported and cut in two shards, a
// 3-node devnet (embedded chain + 3 node processes over libp2p on loopback), a signed
// request, pipeline execution across the two shards, quorum re-execution, and the
// receipt settled on chain in a batch co-signed by the epoch's BLS quorum, its fee split
// and claimable after the challenge window.

import test from 'ava'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Wallet } from 'ethers'
import { Devnet } from '../runtime/cli/devnet.js'
import { MeshClient } from '../runtime/client/mesh-client.js'
import { silentLogger } from '../runtime/node/logger.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { TxSender } from '../runtime/chain/tx-sender.js'
import { PayoutKind } from '../runtime/chain/batch.js'
import { connectBatchSettlement, connectVerimeshToken, parseBatchSettlementLogs } from '../runtime/chain/types/index.js'
import { rebuildSettledBatch } from './settled-batch.js'
import { IntShardEngine } from '../actors/engine/int-engine.js'
import { openModel } from '../actors/engine/open-model.js'
import { generateLocally } from '../actors/engine/generate.js'
import { isVerimeshError } from '../runtime/errors.js'
import type { NodeConfig } from '../runtime/node/config.js'
import { DIM_PRESETS, synthFloatModel } from '../actors/engine/int/synth.js'
import { writeFloatModelGguf } from '../actors/engine/model/gguf-export.js'
import { importGguf } from '../actors/engine/model/gguf-import.js'
import { bytesTokenizerSpec } from '../actors/engine/model/tokenizer.js'

const logger = silentLogger()

async function withDevnet (override: ((i: number, c: NodeConfig) => NodeConfig) | undefined, fn: (d: Devnet, c: MeshClient) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-e2e-'))
  // The served model comes the way an operator's would: a GGUF file (Q8_0 matrices, an
  // F16 embedding, F32 norms, a llama SentencePiece vocabulary), imported and cut in two.
  // Tiny dimensions keep the test quick on the JS fallback too.
  const gguf = path.join(dir, 'tiny.gguf')
  await writeFloatModelGguf(gguf, synthFloatModel({ dims: DIM_PRESETS.tiny!, seed: 42 }), {
    name: 'tiny-e2e',
    tokenizer: bytesTokenizerSpec(DIM_PRESETS.tiny!.vocab),
    typeOf: (name) => name.endsWith('_norm.weight') ? 'F32' : name === 'token_embd.weight' ? 'F16' : 'Q8_0'
  })
  const modelDir = path.join(dir, 'model')
  await importGguf(gguf, modelDir, { parts: 2 })
  const devnet = await Devnet.start({ nodes: 3, dir, logger, stallMs: 1500, heartbeatMs: 250, model: { path: modelDir, id: 'tiny' }, ...(override === undefined ? {} : { override }) })
  const client = await MeshClient.connect({ logger, chainId: devnet.chain.chainId })
  try {
    for (const n of devnet.nodes) await client.addPeer(n.peerId, n.addrs)
    await Promise.all(devnet.nodes.map(async (n) => await client.waitForMesh(n.peerId, 3, 30_000)))
    await fn(devnet, client)
  } finally {
    await client.stop()
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

test.serial('a signed request is served by two shards, attested by the quorum and recorded on chain', async (t) => {
  await withDevnet(undefined, async (devnet, client) => {
    const wallet = new Wallet(devnet.clientKey)
    const prompt = 'The mesh computes, the quorum checks.'
    const sampling = { temperatureMilli: 700, topK: 8, seed: 99n }
    const { requestId, result } = await client.infer(devnet.nodes[0]!.peerId, wallet, { model: devnet.modelId, prompt, maxTokens: 12, ...sampling })

    t.is(result.requestId, requestId)
    t.is(result.tokens.length, 12)
    t.is(result.attempts, 1)
    t.deepEqual(result.route.map((h) => h.shard), [0, 1])
    t.not(result.route[0]!.peer, result.route[1]!.peer, 'each shard on its own node')
    t.is(result.attestations.length, 2)
    t.log(`executors ran on ${result.backend}; the local comparison runs on the JS pool`)

    // The distributed pipeline (native kernels when the addon is built) matches a
    // single-process run of the same model on the JS fallback, byte for byte.
    const model = await openModel({ id: devnet.modelId, path: devnet.modelPath })
    const engine = new IntShardEngine(model, { backend: 'js', threads: 1 })
    try {
      const local = await generateLocally(engine, 'ref', model.encode(prompt), 12, { temperatureMilli: 700, topK: 8, topPMilli: 1000, seed: '99' })
      t.deepEqual(result.tokens, local.tokens)
      t.is(result.outputHash, local.outputHash)
      t.is(result.traceHash, local.traceHash)
    } finally {
      await engine.close()
    }

    // The receipt is on chain: a batch of one, co-signed by the epoch's quorum. Rebuilt
    // here from the result alone, it has the root the contract stored.
    const st = result.settlement
    if (st === null) throw new Error('no settlement')
    t.is(st.receiptCount, 1)
    const provider = connectProvider(devnet.chain.url, { chainId: devnet.chain.chainId, pollingInterval: 50 })
    try {
      const settlement = connectBatchSettlement(devnet.settlement, provider)
      const info = await settlement.batchInfo(st.batchId)
      t.is(info.receiptsRoot, st.receiptsRoot)
      const tx = await provider.getTransactionReceipt(st.txHash)
      t.is(tx?.status, 1)
      const settled = parseBatchSettlementLogs(tx!.logs, devnet.settlement).find((e) => e.name === 'BatchSettled')
      t.is(settled?.name === 'BatchSettled' ? settled.args.signedStake : -1n, settled?.name === 'BatchSettled' ? settled.args.totalStake : 0n, 'all three validators co-signed')
      const batch = await rebuildSettledBatch(provider, devnet.chain.chainId, devnet.contracts.params, result)
      t.is(batch.header.receiptsRoot, st.receiptsRoot)
      t.is(batch.receiptLeafHash(0), st.leafHash)
      const fee = BigInt(result.receipt.fee)
      t.is(batch.pools.total, fee)
      t.is(batch.pools.treasuryShare, fee * 1000n / 10_000n)
      t.is(batch.pools.validatorPool, fee * 1200n / 10_000n)
      t.is(batch.pools.operatorPool, fee - batch.pools.treasuryShare - batch.pools.validatorPool)

      // Claims wait for the challenge window; then every payout is claimable with its
      // Merkle proof, and each account receives exactly its share.
      const token = connectVerimeshToken(devnet.contracts.token, provider)
      const claimer = await TxSender.create(new Wallet(devnet.clientKey, provider), { pollIntervalMs: 50 })
      const first = batch.payouts[0]!
      const early = await t.throwsAsync(claimer.sendCall(settlement, 'claim', [st.batchId, first.account, first.kind, first.amount, batch.payoutProof(first.account, first.kind)]))
      t.regex(early.message, /ChallengeWindowOpen/)
      await provider.send('evm_increaseTime', [61])
      const before = await Promise.all(batch.payouts.map(async (p) => await token.balanceOf(p.account)))
      for (const p of batch.payouts) {
        await claimer.sendCall(settlement, 'claim', [st.batchId, p.account, p.kind, p.amount, batch.payoutProof(p.account, p.kind)])
      }
      const after = await Promise.all(batch.payouts.map(async (p) => await token.balanceOf(p.account)))
      // An account can be both operator and validator: each gains the sum of its payouts.
      batch.payouts.forEach((p, i) => { if (batch.payouts.findIndex((q) => q.account === p.account) === i) t.is(after[i]! - before[i]!, batch.payouts.filter((q) => q.account === p.account).reduce((a, q) => a + q.amount, 0n)) })
      t.is(batch.payouts.filter((p) => p.kind === PayoutKind.OPERATOR).reduce((a, p) => a + p.amount, 0n), batch.pools.operatorPool)
      t.is(batch.payouts.filter((p) => p.kind === PayoutKind.VALIDATOR).reduce((a, p) => a + p.amount, 0n), batch.pools.validatorPool)
      const again = await t.throwsAsync(claimer.sendCall(settlement, 'claim', [st.batchId, first.account, first.kind, first.amount, batch.payoutProof(first.account, first.kind)]))
      t.regex(again.message, /AlreadyClaimed/)
    } finally {
      provider.destroy()
    }

    // A forged signature is refused with a clear error, and the node keeps serving.
    const request = client.buildRequest(wallet, { model: devnet.modelId, prompt: 'x' })
    const forged = await Wallet.createRandom().signTypedData({ name: 'Verimesh', version: '1', chainId: 31337 }, { InferenceRequest: [{ name: 'model', type: 'string' }] }, { model: 'x' })
    const err = await t.throwsAsync(client.submit(devnet.nodes[0]!.peerId, request, forged))
    t.true(isVerimeshError(err, 'BAD_SIGNATURE'), `${err.message}`)
    const again = await client.infer(devnet.nodes[1]!.peerId, wallet, { model: devnet.modelId, prompt: 'still here?', maxTokens: 3 })
    t.is(again.result.tokens.length, 3)

    // An executor killed mid-request: the router notices, reroutes around it, and the
    // request completes on the remaining nodes.
    const pending = client.infer(devnet.nodes[0]!.peerId, wallet, { model: devnet.modelId, prompt: 'survive a crash', maxTokens: 400, latencyBoundMs: 60_000 })
    const status = await client.status(devnet.nodes[0]!.peerId)
    t.is(status.coveredShards.length, 2)
    await new Promise((resolve) => setTimeout(resolve, 400))
    // With the devnet's stakes the route is shard 0 → node-2, shard 1 → node-1.
    devnet.kill(1)
    const survived = await pending
    const killed = devnet.nodes[1]!.peerId
    t.is(survived.result.tokens.length, 400)
    t.true(survived.result.attempts >= 2, `attempts: ${survived.result.attempts}`)
    t.false(survived.result.route.some((h) => h.peer === killed))
    t.truthy(survived.result.settlement)
  })
})

test.serial('a tampering executor is caught by the quorum: no attestation, nothing settled', async (t) => {
  const tamper = (i: number, c: NodeConfig): NodeConfig => i === 1 ? { ...c, faults: { tamperOutput: true } } : c
  await withDevnet(tamper, async (devnet, client) => {
    const wallet = new Wallet(devnet.clientKey)
    const err = await t.throwsAsync(client.infer(devnet.nodes[0]!.peerId, wallet, { model: devnet.modelId, prompt: 'trust, but verify', maxTokens: 6 }))
    t.true(isVerimeshError(err, 'VERIFICATION_FAILED'), `${err.message}`)
    t.regex(err.message, /different tokens/)
    const provider = connectProvider(devnet.chain.url, { chainId: devnet.chain.chainId })
    try {
      t.is(await connectBatchSettlement(devnet.settlement, provider).nextBatchId(), 0n, 'no batch was settled')
    } finally {
      provider.destroy()
    }
  })
})
