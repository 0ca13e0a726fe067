// Verification 'proof' on real processes: a 3-node devnet whose node-0 runs the prover
// role. A signed request comes back with a Groth16 proof of its receipt that snarkjs
// accepts against the receipt circuit's verification key, with the public commitment
// recomputed here from the returned receipt by the circuits' own TypeScript encoding;
// both quorum members report having checked it. Quorum members refuse a tampered proof
// or one of another receipt. Without built circuits, 'proof' fails at once and says how
// to build them, while 'quorum' requests go on working.

import test from 'ava'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Wallet } from 'ethers'
import { Value } from '@sinclair/typebox/value'
import { Devnet } from '../runtime/cli/devnet.js'
import { MeshClient } from '../runtime/client/mesh-client.js'
import { silentLogger } from '../runtime/node/logger.js'
import { isVerimeshError } from '../runtime/errors.js'
import type { NodeConfig } from '../runtime/node/config.js'
import { ProofBundleSchema, VerificationReportSchema, type QuorumAttestationMsg } from '../runtime/protocol/messages.js'
import { signRequest } from '../runtime/protocol/request.js'
import { DIM_PRESETS } from '../actors/engine/int/synth.js'
import { synthPackage } from '../actors/engine/model/synth-package.js'
import { buildCircuits } from '../circuits/build.js'
import { circuitPaths, repoRoot } from '../circuits/registry.js'
import { receiptClaimOf, receiptPublicSignals } from '../circuits/receipt-encoding.js'
import { loadSnarkjs } from '../actors/prover/snarkjs-api.js'
import type { Groth16Proof } from '../actors/prover/types.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { TxSender } from '../runtime/chain/tx-sender.js'
import { verifierCalldata } from '../runtime/chain/groth16-verifier.js'
import { connectBatchSettlement } from '../runtime/chain/types/index.js'
import { rebuildSettledBatch } from './settled-batch.js'

const logger = silentLogger()

async function withDevnet (override: ((i: number, c: NodeConfig) => NodeConfig) | undefined, fn: (d: Devnet, c: MeshClient, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-e2e-proof-'))
  const modelDir = path.join(dir, 'model')
  await synthPackage(modelDir, { dims: DIM_PRESETS.tiny!, preset: 'tiny', seed: 7, parts: 2, overwrite: true })
  const devnet = await Devnet.start({ nodes: 3, dir, logger, stallMs: 3000, heartbeatMs: 250, model: { path: modelDir, id: 'tiny' }, ...(override === undefined ? {} : { override }) })
  const client = await MeshClient.connect({ logger, chainId: devnet.chain.chainId })
  try {
    for (const n of devnet.nodes) await client.addPeer(n.peerId, n.addrs)
    await Promise.all(devnet.nodes.map(async (n) => await client.waitForMesh(n.peerId, 3, 30_000)))
    await fn(devnet, client, dir)
  } finally {
    await client.stop()
    await devnet.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

test.before(async () => {
  // Cached: returns at once when the receipt circuit and its keys are up to date.
  try {
    await buildCircuits({ only: ['receipt'] })
  } catch (err) {
    // What this test needs is the witness calculator and the keys; a failure after them
    // (the Solidity verifier export) is reported but does not stop it.
    const p = circuitPaths('receipt', repoRoot())
    if (![p.wasm, p.zkey, p.vkey].every((f) => existsSync(f))) throw err
    console.warn(`circuits:build failed after making the receipt keys: ${(err as Error).message}`)
  }
})

test.after.always(async () => {
  await (globalThis as { curve_bn128?: { terminate: () => Promise<void> } }).curve_bn128?.terminate()
})

test.serial("verification 'proof': the result carries a receipt proof that snarkjs verifies, checked by the quorum", async (t) => {
  await withDevnet(undefined, async (devnet, client) => {
    const wallet = new Wallet(devnet.clientKey)
    // Routed by node-1: its prover is node-0's, over the mesh.
    const request = client.buildRequest(wallet, { model: devnet.modelId, prompt: 'prove it', maxTokens: 6, verification: 'proof', latencyBoundMs: 60_000 })
    const signature = await signRequest(wallet, request, devnet.chain.chainId)
    const result = await client.submit(devnet.nodes[1]!.peerId, request, signature)

    t.is(result.verification, 'proof')
    const proof = result.proof
    t.truthy(proof)
    if (proof === undefined) return
    t.true(Value.Check(ProofBundleSchema, proof))
    t.is(proof.circuit, 'receipt')
    t.true(['cuda', 'native-cpu', 'snarkjs'].includes(proof.backend))
    t.log(`proved by ${proof.backend}: ${JSON.stringify(proof.timings)}`)

    // The statement, recomputed from the receipt the client got back: first executor, epoch 0.
    const expected = receiptPublicSignals(receiptClaimOf(result.receipt, { epoch: 0, executorIndex: 0 }))
    t.deepEqual(proof.publicSignals, expected)
    const vkey = JSON.parse(await readFile(circuitPaths('receipt', repoRoot()).vkey, 'utf8')) as unknown
    const snarkjs = await loadSnarkjs()
    t.true(await snarkjs.groth16.verify(vkey, expected, proof.proof as Groth16Proof))

    // Both quorum members checked the proof, and the receipt still went on chain.
    t.is(result.attestations.length, 2)
    t.is(result.proofReports?.length, 2)
    for (const { validator, report } of result.proofReports ?? []) {
      t.true(report.valid, report.error)
      t.true(Value.Check(VerificationReportSchema, report))
      t.true(result.attestations.some((a) => a.validator === validator))
    }
    t.truthy(result.settlement)
    t.true((result.timings.proveMs ?? 0) > 0)

    // On chain the receipt's leaf carries the proven statement, and the proof itself
    // finalises it through the receipt circuit's Groth16 verifier (wired by the devnet).
    const provider = connectProvider(devnet.chain.url, { chainId: devnet.chain.chainId, pollingInterval: 50 })
    try {
      const batch = await rebuildSettledBatch(provider, devnet.chain.chainId, devnet.contracts.params, result)
      t.is(batch.header.receiptsRoot, result.settlement!.receiptsRoot)
      t.is(batch.receipts[0]!.proofStatement, BigInt(proof.publicSignals[0]!))
      const settlement = connectBatchSettlement(devnet.settlement, provider)
      const sender = await TxSender.create(new Wallet(devnet.clientKey, provider), { pollIntervalMs: 50 })
      const [a, b, c] = verifierCalldata(proof.proof, proof.publicSignals)
      const r = batch.receipts[0]!
      const leaf = { requestId: r.requestId, modelRoot: r.modelRoot, client: r.client, executor: r.executor, fee: r.fee, outputHash: r.outputHash, traceRoot: r.traceRoot, steps: r.steps, proofStatement: r.proofStatement }
      const forged = await t.throwsAsync(sender.sendCall(settlement, 'finalizeReceiptWithProof', [result.settlement!.batchId, leaf, batch.receiptProof(0), a, [b[1], b[0]], c]))
      t.regex(forged.message, /InvalidReceiptProof/)
      await sender.sendCall(settlement, 'finalizeReceiptWithProof', [result.settlement!.batchId, leaf, batch.receiptProof(0), a, b, c])
      t.true(await settlement.isReceiptProven(result.settlement!.batchId, batch.receiptLeafHash(0)))
    } finally {
      provider.destroy()
    }

    // A quorum member refuses a proof that does not verify, and one of another receipt.
    const member = devnet.nodes[2]!.peerId
    const base = { type: 'quorum.verify', request, signature, tokens: result.tokens, receipt: result.receipt }
    const tampered = structuredClone(proof)
    tampered.proof.pi_a = proof.proof.pi_c
    const bad = await t.throwsAsync(client.ask<QuorumAttestationMsg>(member, '/user/quorum', { ...base, proof: tampered }, 30_000))
    t.true(isVerimeshError(bad, 'VERIFICATION_FAILED'), bad.message)
    t.regex(bad.message, /the receipt proof does not verify/)
    const other = structuredClone(proof)
    other.publicSignals = ['1']
    const wrong = await t.throwsAsync(client.ask<QuorumAttestationMsg>(member, '/user/quorum', { ...base, proof: other }, 30_000))
    t.true(isVerimeshError(wrong, 'VERIFICATION_FAILED'))
    t.regex(wrong.message, /commits to a different receipt/)
    const none = await t.throwsAsync(client.ask<QuorumAttestationMsg>(member, '/user/quorum', base, 30_000))
    t.regex(none.message, /no receipt proof came with it/)

    // The router on the prover's own node proves locally.
    const local = await client.infer(devnet.nodes[0]!.peerId, wallet, { model: devnet.modelId, prompt: 'again', maxTokens: 3, verification: 'proof', latencyBoundMs: 60_000 })
    t.deepEqual(local.result.proof?.publicSignals, receiptPublicSignals(receiptClaimOf(local.result.receipt, { epoch: 0, executorIndex: 0 })))
  })
})

test.serial("without built circuits, 'proof' fails at once with how to build them; 'quorum' is unaffected", async (t) => {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'verimesh-no-circuits-'))
  try {
    await withDevnet((i, c) => {
      const roles = { ...c.roles }
      if (roles.prover !== undefined) roles.prover = { ...roles.prover, circuitsDir: empty }
      return { ...c, roles }
    }, async (devnet, client) => {
      const wallet = new Wallet(devnet.clientKey)
      const err = await t.throwsAsync(client.infer(devnet.nodes[0]!.peerId, wallet, { model: devnet.modelId, prompt: 'no keys', maxTokens: 2, verification: 'proof' }))
      t.true(isVerimeshError(err, 'PROVER_UNAVAILABLE'), err.message)
      t.regex(err.message, /circuit 'receipt' is not built .*npm run circuits:build/)
      const ok = await client.infer(devnet.nodes[0]!.peerId, wallet, { model: devnet.modelId, prompt: 'quorum still works', maxTokens: 2 })
      t.is(ok.result.verification, 'quorum')
      t.is(ok.result.proof, undefined)
      t.is(ok.result.attestations.length, 2)
      // The prover node said so when it started.
      const log = await readFile(devnet.nodes[0]!.logFile, 'utf8')
      t.regex(log, /the receipt circuit is not built, so this node cannot prove receipts.*npm run circuits:build/)
    })
  } finally {
    await rm(empty, { recursive: true, force: true })
  }
})
