// The prover actor and its backends on a tiny real circuit (circom2 + a 2^8 development
// setup, see prover-fixture.ts): proofs from every available backend verify with
// snarkjs and have the same JSON shape; bad input, an unbuilt circuit, a full queue and
// a dead worker each fail precisely; a supervisor restart of the actor loses no job.

import test from 'ava'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { ActorSystem, type ActorContext, type Message } from '../runtime/actors/index.js'
import { isVerimeshError, VerimeshError } from '../runtime/errors.js'
import { ProofBundleSchema, ProverProve, VerificationMode, VerificationReportSchema, type Receipt, type ProverProofMsg } from '../runtime/protocol/messages.js'
import { NodeMetrics } from '../runtime/node/metrics.js'
import { parseConfig } from '../runtime/node/config.js'
import { silentLogger } from '../runtime/node/logger.js'
import { ProverService, type ProverServiceOptions, type ReceiptEncoding } from '../actors/prover/service.js'
import { Groth16ProverActor, defaultBackends } from '../actors/prover/groth16-prover.js'
import { locateCircuit, RECEIPT_CIRCUIT, type CircuitArtifacts } from '../actors/prover/circuits.js'
import { ProverPool } from '../actors/prover/backends/pool.js'
import { selectBackend } from '../actors/prover/backends/select.js'
import { CudaBackend } from '../actors/prover/backends/cuda-backend.js'
import { NativeCpuBackend, nativeZkProver } from '../actors/prover/backends/native-cpu-backend.js'
import { SnarkjsPiscinaBackend } from '../actors/prover/backends/snarkjs-backend.js'
import { ProofVerifier } from '../actors/prover/verifier.js'
import { loadSnarkjs } from '../actors/prover/snarkjs-api.js'
import { proverMetrics } from '../actors/prover/metrics.js'
import type { ProofBundle } from '../actors/prover/types.js'
import { MUL_SOURCE, buildTestCircuit, mulOutput } from './prover-fixture.js'

const logger = silentLogger()
const CRASH_WORKER = new URL('./prover-crash-worker.js', import.meta.url)
let circuitsDir = ''
let mul: CircuitArtifacts

// A stand-in encoding for this unit test only (the real one is circuits/'s): the "receipt
// circuit" here is the Mul circuit, fed from the receipt's fee.
const testEncoding: ReceiptEncoding = {
  receiptInput: (r) => ({ a: ['2', '3', '5', '7'], b: r.fee }),
  receiptPublicSignals: (r) => [mulOutput([2n, 3n, 5n, 7n], BigInt(r.fee))]
}
const receipt: Receipt = {
  requestId: '0x' + '11'.repeat(32),
  modelId: '0x' + '22'.repeat(32),
  client: '0x' + '33'.repeat(20),
  outputHash: '0x' + '44'.repeat(32),
  traceHash: '0x' + '55'.repeat(32),
  executors: ['0x' + '66'.repeat(20)],
  fee: '16000000000'
}
const tile = (b: string) => ({ kind: 'tile' as const, circuit: 'mul', input: { a: ['2', '3', '4', '5'], b } })

test.before(async () => {
  const built = await buildTestCircuit('mul', MUL_SOURCE)
  // One directory with the circuit under its own name and as 'receipt'.
  circuitsDir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-prover-'))
  for (const name of ['mul', RECEIPT_CIRCUIT]) {
    await mkdir(path.join(circuitsDir, name))
    await copyFile(path.join(built, 'mul', 'mul_js', 'mul.wasm'), path.join(circuitsDir, name, `${name}.wasm`))
    await copyFile(path.join(built, 'mul', 'mul.zkey'), path.join(circuitsDir, name, `${name}.zkey`))
    await copyFile(path.join(built, 'mul', 'vkey.json'), path.join(circuitsDir, name, 'vkey.json'))
  }
  mul = locateCircuit(circuitsDir, 'mul')
})

test.after.always(async () => {
  if (circuitsDir !== '') await rm(circuitsDir, { recursive: true, force: true })
  // snarkjs.groth16.verify on this thread started ffjavascript's curve threads: stop them.
  await (globalThis as { curve_bn128?: { terminate: () => Promise<void> } }).curve_bn128?.terminate()
})

function makeService (over: Partial<ProverServiceOptions> = {}): ProverService {
  return new ProverService({ circuitsDir, backend: 'snarkjs', maxQueued: 4, concurrency: 1, receipt: testEncoding, logger, ...over }, defaultBackends(undefined))
}

async function snarkjsAccepts (bundle: ProofBundle, circuit: CircuitArtifacts): Promise<boolean> {
  const snarkjs = await loadSnarkjs()
  const { readFile } = await import('node:fs/promises')
  return await snarkjs.groth16.verify(JSON.parse(await readFile(circuit.vkey, 'utf8')), bundle.publicSignals, bundle.proof)
}

function shape (b: ProofBundle): unknown {
  return {
    keys: Object.keys(b).filter((k) => k !== 'kernel').sort(),
    proof: { a: b.proof.pi_a.length, b: b.proof.pi_b.map((x) => x.length), c: b.proof.pi_c.length, protocol: b.proof.protocol, curve: b.proof.curve },
    timings: ['witnessMs', 'proveMs', 'totalMs', 'queueMs'].map((k) => typeof b.timings[k])
  }
}

const native = nativeZkProver()

test.serial('snarkjs backend: a tile proof that snarkjs.groth16.verify accepts, in the wire shape', async (t) => {
  const s = makeService({ metrics: proverMetrics(new NodeMetrics({}, { processMetrics: false }).registry) })
  try {
    t.is(s.choice.backend.name, 'snarkjs')
    const bundle = await s.submit(tile('7'))
    t.is(bundle.backend, 'snarkjs')
    t.is(bundle.circuit, 'mul')
    t.deepEqual(bundle.publicSignals, [mulOutput([2n, 3n, 4n, 5n], 7n)])
    t.true(Value.Check(ProofBundleSchema, bundle), JSON.stringify([...Value.Errors(ProofBundleSchema, bundle)].slice(0, 2)))
    t.true(await snarkjsAccepts(bundle, mul))
    t.true(bundle.timings.witnessMs > 0 && bundle.timings.proveMs > 0 && bundle.timings.totalMs >= bundle.timings.proveMs)
    t.log(`snarkjs: witness ${bundle.timings.witnessMs.toFixed(1)} ms, prove ${bundle.timings.proveMs.toFixed(1)} ms, total ${bundle.timings.totalMs.toFixed(1)} ms (cold worker)`)
    const warm = await s.submit(tile('8'))
    t.true(await snarkjsAccepts(warm, mul))
    t.log(`snarkjs warm: witness ${warm.timings.witnessMs.toFixed(1)} ms, prove ${warm.timings.proveMs.toFixed(1)} ms`)

    // A receipt job goes through the encoding, and its public signals are checked against it.
    const r = await s.submit({ kind: 'receipt', receipt })
    t.is(r.circuit, RECEIPT_CIRCUIT)
    t.deepEqual(r.publicSignals, testEncoding.receiptPublicSignals(receipt))
    t.true(await snarkjsAccepts(r, mul))
  } finally {
    await s.close()
  }
  // threads = 1: snarkjs's single-threaded curve, same proof format.
  const single = new ProverService({ circuitsDir, backend: 'snarkjs', maxQueued: 1, concurrency: 1, receipt: testEncoding }, defaultBackends(1))
  try {
    const b = await single.submit(tile('10'))
    t.is(b.threads, 1)
    t.true(await snarkjsAccepts(b, mul))
  } finally {
    await single.close()
  }
})

test.serial('native-cpu backend: same JSON shape, and snarkjs accepts its proofs', async (t) => {
  if (typeof native === 'string') {
    t.log(`native prover not available here: ${native}`)
    // Forcing it is then a precise refusal, not a silent fallback to snarkjs.
    const err = t.throws(() => makeService({ backend: 'native' }))
    t.true(isVerimeshError(err, 'PROVER_UNAVAILABLE'), err?.message)
    return
  }
  const s = makeService({ backend: 'native' })
  const j = makeService({ backend: 'snarkjs' })
  try {
    const n = await s.submit(tile('9'))
    const js = await j.submit(tile('9'))
    t.is(n.backend, 'native-cpu')
    t.true(Value.Check(ProofBundleSchema, n))
    t.deepEqual(shape(n), shape(js))
    t.deepEqual(n.publicSignals, js.publicSignals)
    t.true(await snarkjsAccepts(n, mul))
    t.log(`native: ${JSON.stringify(n.timings)} threads ${String(n.threads)} kernel ${String(n.kernel)}`)
  } finally {
    await s.close()
    await j.close()
  }
})

test.serial('backend selection: auto takes the best available; CUDA says why not; forced ones are checked', (t) => {
  const pool = new ProverPool()
  try {
    const cuda = new CudaBackend()
    const a = cuda.available()
    t.false(a.available)
    t.is(a.available ? '' : a.reason, 'not available: no CUDA MSM in this build')
    const snark = new SnarkjsPiscinaBackend(pool)
    const nativeBackend = new NativeCpuBackend()
    const auto = selectBackend('auto', [snark, nativeBackend, cuda])
    t.is(auto.backend.name, typeof native === 'string' ? 'snarkjs' : 'native-cpu')
    t.regex(auto.reason, /skipped cuda no CUDA MSM in this build/)
    t.deepEqual(auto.considered.map((c) => c.name), ['cuda', 'native-cpu', 'snarkjs'])
    t.is(selectBackend('snarkjs', [snark, nativeBackend, cuda]).backend.name, 'snarkjs')
    const err = t.throws(() => selectBackend('cuda', [snark, nativeBackend, cuda]))
    t.true(isVerimeshError(err, 'PROVER_UNAVAILABLE'))
    t.regex(err!.message, /'cuda' was configured but is not available: not available: no CUDA MSM/)
  } finally {
    void pool.close()
  }
})

test.serial('wrong input is rejected precisely, and the prover keeps working', async (t) => {
  const s = makeService()
  try {
    const zero = await t.throwsAsync(s.submit(tile('0')))
    t.true(isVerimeshError(zero, 'PROOF_INPUT_INVALID'), zero.message)
    t.regex(zero.message, /does not satisfy circuit 'mul': .*Assert Failed/)
    const short = await t.throwsAsync(s.submit({ kind: 'tile', circuit: 'mul', input: { a: ['1'], b: '1' } }))
    t.true(isVerimeshError(short, 'PROOF_INPUT_INVALID'))
    t.regex(short.message, /Not enough values for input signal a/)
    const unbuilt = await t.throwsAsync(s.submit({ kind: 'tile', circuit: 'nope', input: {} }))
    t.true(isVerimeshError(unbuilt, 'PROVER_UNAVAILABLE'))
    t.regex(unbuilt.message, /circuit 'nope' is not built in .* \(missing nope\/nope_js\/nope\.wasm, nope\/nope\.zkey, nope\/nope\.vkey\.json\): build the circuits with `npm run circuits:build`/)
    const encodingFails = makeService({ receipt: { receiptInput: () => { throw new Error('fee out of range') }, receiptPublicSignals: () => [] } })
    try {
      const e = await t.throwsAsync(encodingFails.submit({ kind: 'receipt', receipt }))
      t.true(isVerimeshError(e, 'PROOF_INPUT_INVALID'))
      t.regex(e.message, /receipt cannot be encoded for the receipt circuit: fee out of range/)
    } finally {
      await encodingFails.close()
    }
    // An encoding that disagrees with the circuit is caught before a bundle leaves.
    const disagrees = makeService({ receipt: { ...testEncoding, receiptPublicSignals: () => ['1'] } })
    try {
      const e = await t.throwsAsync(disagrees.submit({ kind: 'receipt', receipt }))
      t.true(isVerimeshError(e, 'PROOF_FAILED'))
      t.regex(e.message, /public signals are not the receipt's commitment/)
    } finally {
      await disagrees.close()
    }
    // Names that are not circuit names never reach the file system, on the wire or here.
    t.false(Value.Check(ProverProve.schema, { type: 'prover.prove', job: { kind: 'tile', circuit: '../etc', input: {} } }))
    t.false(Value.Check(ProverProve.schema, { type: 'prover.prove', job: { kind: 'tile', circuit: 'mul', input: { a: 'x1' } } }))
    const traversal = await t.throwsAsync(s.submit({ kind: 'tile', circuit: '../etc', input: {} }))
    t.true(isVerimeshError(traversal, 'PROOF_INPUT_INVALID'))
    const ok = await s.submit(tile('3'))
    t.true(await snarkjsAccepts(ok, mul))
  } finally {
    await s.close()
  }
})

test.serial('a worker that dies fails only its job (PROOF_FAILED); the next job works', async (t) => {
  const pool = new ProverPool({ workerFile: CRASH_WORKER })
  const s = makeService({ pool })
  try {
    const before = await s.submit(tile('5'))
    t.true(await snarkjsAccepts(before, mul))
    const err = await t.throwsAsync(s.submit(tile('666')))
    t.true(isVerimeshError(err, 'PROOF_FAILED'), err.message)
    t.true((err as VerimeshError).context.workerDied === true, err.message)
    t.regex(err.message, /prover worker died during witness of 'mul'/)
    const after = await s.submit(tile('6'))
    t.true(await snarkjsAccepts(after, mul))
  } finally {
    await s.close()
    await pool.close()
  }
})

/** The prover actor, plus a test-only message that makes it crash. */
class CrashableProver extends Groth16ProverActor {
  override receive (msg: Message, ctx: ActorContext): void {
    if (msg.type === 'test.crash') throw new Error('crash on purpose')
    super.receive(msg, ctx)
  }
}

test.serial('the actor: asks get prover.proof; a full queue is PROVER_BUSY; a restart loses no accepted job', async (t) => {
  const metrics = new NodeMetrics({}, { processMetrics: false })
  const s = makeService({ maxQueued: 2, concurrency: 1, metrics: proverMetrics(metrics.registry) })
  const sys = new ActorSystem({ logger: () => {}, askTimeoutMs: 60_000, rootSupervisor: { intensity: 5, periodMs: 10_000, backoff: { minMs: 1, maxMs: 5, factor: 2 } } })
  try {
    const ref = sys.spawn('prover', () => new CrashableProver(s, { logger, metrics }))
    // One runs, two wait, the fourth is refused at once.
    const asks = ['11', '12', '13'].map(async (b) => await ref.ask<ProverProofMsg>({ type: 'prover.prove', job: tile(b) }))
    await new Promise((resolve) => setTimeout(resolve, 20))
    const busy = await t.throwsAsync(ref.ask({ type: 'prover.prove', job: tile('14') }))
    t.true(isVerimeshError(busy, 'PROVER_BUSY'), busy.message)
    t.regex(busy.message, /prover queue is full \(2 waiting, 1 running\)/)
    // The actor crashes and is restarted while those three are in flight.
    ref.tell({ type: 'test.crash' })
    const replies = await Promise.all(asks)
    t.is(replies.length, 3)
    for (const [i, r] of replies.entries()) {
      t.is(r.type, 'prover.proof')
      t.deepEqual(r.bundle.publicSignals, [mulOutput([2n, 3n, 4n, 5n], BigInt(11 + i))])
      t.true(await snarkjsAccepts(r.bundle as ProofBundle, mul))
    }
    // The restarted actor takes new work.
    const next = await ref.ask<ProverProofMsg>({ type: 'prover.prove', job: tile('15') })
    t.true(await snarkjsAccepts(next.bundle as ProofBundle, mul))
    const unknown = await t.throwsAsync(ref.ask({ type: 'prover.nonsense' }))
    t.true(isVerimeshError(unknown, 'UNKNOWN_MESSAGE_TYPE'))
    const text = await metrics.registry.metrics()
    t.regex(text, /verimesh_proofs_total\{circuit="mul",backend="snarkjs",outcome="ok"\} 4/)
    t.regex(text, /verimesh_proofs_total\{circuit="mul",backend="snarkjs",outcome="PROVER_BUSY"\} 1/)
    t.regex(text, /verimesh_proof_phase_seconds_count\{circuit="mul",backend="snarkjs",phase="prove"\} 4/)
  } finally {
    await sys.stop()
    await s.close()
  }
})

test.serial('closing the prover answers every accepted job that has not finished with ACTOR_STOPPED', async (t) => {
  const s = makeService({ maxQueued: 3 })
  const jobs = ['21', '22', '23'].map(async (b) => await s.submit(tile(b)))
  await new Promise((resolve) => setTimeout(resolve, 10))
  await s.close()
  const outcomes = await Promise.allSettled(jobs)
  for (const o of outcomes) {
    t.is(o.status, 'rejected')
    t.true(isVerimeshError((o as PromiseRejectedResult).reason, 'ACTOR_STOPPED'))
  }
  const late = await t.throwsAsync(s.submit(tile('24')))
  t.true(isVerimeshError(late, 'ACTOR_STOPPED'))
})

test.serial('the verifier reports valid, tampered and mismatched proofs in one shape', async (t) => {
  const s = makeService()
  const v = new ProofVerifier({ preference: 'snarkjs' })
  try {
    const b = await s.submit(tile('4'))
    const ok = await v.verify(mul, b.proof, b.publicSignals)
    t.true(ok.valid, ok.error)
    t.is(ok.backend, 'snarkjs')
    t.true(Value.Check(VerificationReportSchema, ok))
    const wrongSignal = await v.verify(mul, b.proof, ['12345'])
    t.false(wrongSignal.valid)
    t.is(wrongSignal.error, 'the pairing check failed')
    const tampered = structuredClone(b.proof)
    tampered.pi_c = b.proof.pi_a
    const bad = await v.verify(mul, tampered, b.publicSignals)
    t.false(bad.valid)
    t.true(Value.Check(VerificationReportSchema, bad))
    const count = await v.verify(mul, b.proof, ['1', '2'])
    t.false(count.valid)
    t.regex(count.error ?? '', /has 1 public signal\(s\), got 2/)
    const missing = await v.verify({ name: 'gone', vkey: path.join(circuitsDir, 'gone', 'vkey.json') }, b.proof, b.publicSignals)
    t.false(missing.valid)
    t.regex(missing.error ?? '', /cannot read the verification key of 'gone'/)
    let nv: ProofVerifier | undefined
    try {
      nv = new ProofVerifier({ preference: 'native' })
    } catch (err) {
      // Without the addon's zkVerify, asking for it is a precise refusal.
      t.true(isVerimeshError(err, 'PROVER_UNAVAILABLE'), (err as Error).message)
    }
    if (nv !== undefined) {
      try {
        const r = await nv.verify(mul, b.proof, b.publicSignals)
        t.is(r.backend, 'native')
        t.true(r.valid, r.error)
        t.false((await nv.verify(mul, b.proof, ['12345'])).valid)
        t.false((await nv.verify(mul, tampered, b.publicSignals)).valid)
      } finally {
        await nv.close()
      }
    }
  } finally {
    await v.close()
    await s.close()
  }
})

test('config: the prover section is validated field by field; old verification modes still parse', (t) => {
  const base = {
    name: 'n',
    operatorKey: '0x' + '01'.repeat(32),
    model: { id: 'm', path: '.' }
  }
  const ok = parseConfig({ ...base, roles: { prover: { impl: 'groth16' }, quorum: { impl: 'reexec', proofVerifier: 'snarkjs' } } })
  t.is(ok.roles.prover?.backend, 'auto')
  t.is(ok.roles.prover?.maxQueued, 16)
  t.is(ok.roles.prover?.concurrency, 1)
  t.is(ok.roles.prover?.threads, undefined)
  const bad = t.throws(() => parseConfig({ ...base, roles: { prover: { impl: 'groth16', backend: 'gpu' } } }))
  t.true(isVerimeshError(bad, 'CONFIG_INVALID'))
  t.regex(bad!.message, /\/roles\/prover\/backend/)
  const zero = t.throws(() => parseConfig({ ...base, roles: { prover: { impl: 'groth16', concurrency: 0 } } }))
  t.regex(zero!.message, /\/roles\/prover\/concurrency/)
  for (const mode of ['quorum', 'none', 'proof']) t.true(Value.Check(VerificationMode, mode))
  t.false(Value.Check(VerificationMode, 'zk'))
})

test.serial('warm loads a circuit\'s proving key once, ahead of its first proof', async (t) => {
  const real = nativeZkProver()
  if (typeof real === 'string') { t.pass(`no native prover here: ${real}`); return }
  let loads = 0
  const counting: typeof real = Object.assign(function () { throw new Error('constructed directly') } as unknown as typeof real, {
    load: async (...args: Parameters<typeof real.load>) => { loads++; return await real.load(...args) }
  })
  const s = makeService({ backend: 'native', backends: () => [new NativeCpuBackend({ ctor: counting })] })
  try {
    await s.warm('mul')
    t.is(loads, 1)
    const bundle = await s.submit(tile('6'))
    t.is(bundle.backend, 'native-cpu')
    t.is(loads, 1, 'the proof used the key loaded by warm')
    const unbuilt = await t.throwsAsync(s.warm('nope'))
    t.true(isVerimeshError(unbuilt, 'PROVER_UNAVAILABLE'))
  } finally {
    await s.close()
  }
})
