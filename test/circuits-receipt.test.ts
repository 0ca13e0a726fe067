// The receipt circuit, the TypeScript Poseidon and the receipt encoding: the witness of the
// TS-computed commitment satisfies the circuit (so TS Poseidon = circomlib's), a wrong
// commitment or an out-of-range limb does not, and a proof with the INSECURE dev keys
// verifies. Also the build cache and the witness worker pool.

import test from 'ava'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { buildCircuits, parseArgs } from '../circuits/build.js'
import { loadCircuit, loadCompiledCircuit } from '../circuits/circuits.js'
import { dec, P } from '../circuits/field.js'
import { hashChain, poseidon } from '../circuits/poseidon.js'
import { receiptClaimOf, receiptCommitment, receiptFields, receiptInput, receiptPublicSignals, type ReceiptClaim } from '../circuits/receipt-encoding.js'
import { loadSnarkjs, releaseSnarkjsCurve, warmSnarkjsCurve } from '../circuits/snarkjs.js'
import { TAG } from '../circuits/tags.js'
import { computeWitness, computeWitnessInPool, createWitnessPool, readWitness } from '../circuits/witness.js'
import { isVerimeshError } from '../runtime/errors.js'

const claim: ReceiptClaim = {
  modelRoot: '0x' + 'ab'.repeat(32),
  requestId: '0x' + '01'.repeat(31) + 'ff',
  inputHash: '0x' + 'ff'.repeat(32),
  outputHash: '0x' + '00'.repeat(32),
  executor: '0x' + 'fe'.repeat(20),
  epoch: (1n << 64n) - 1n
}

test.before(async (t) => {
  t.timeout(20 * 60_000)
  await buildCircuits({ only: ['receipt'], log: (l) => t.log(l) })
  await warmSnarkjsCurve()
})

test.after.always(async () => { await releaseSnarkjsCurve() })

test('Poseidon matches circomlib known answers', (t) => {
  // circomlibjs poseidon([1, 2]) and poseidon([1..16]) reference values.
  t.is(poseidon([1, 2]), 7853200120776062878684798364095072458815029376092732009249414926327459813530n)
  t.is(poseidon([1]), 18586133768512220936620570745912940619677854269274689475585506675881198879027n)
  t.throws(() => poseidon([]), { message: /1 to 16 inputs/ })
  t.throws(() => poseidon(new Array(17).fill(0)), { message: /1 to 16 inputs/ })
})

test('receipt encoding: limbs, validation and the commitment', (t) => {
  const f = receiptFields(claim)
  t.deepEqual(f.slice(0, 2), [BigInt('0x' + 'ab'.repeat(16)), BigInt('0x' + 'ab'.repeat(16))])
  t.deepEqual(f.slice(2, 4), [BigInt('0x' + '01'.repeat(16)), BigInt('0x' + '01'.repeat(15) + 'ff')])
  t.is(f[8], BigInt('0x' + 'fe'.repeat(20)))
  t.is(f[9], (1n << 64n) - 1n)
  t.is(receiptCommitment(claim), hashChain(TAG.receipt, f))
  t.deepEqual(receiptPublicSignals(claim), [receiptCommitment(claim).toString()])
  t.not(receiptCommitment({ ...claim, epoch: 0 }), receiptCommitment(claim))
  const bad = (c: Partial<ReceiptClaim>, re: RegExp): void => {
    const err = t.throws(() => receiptInput({ ...claim, ...c }), { message: re })
    t.true(isVerimeshError(err, 'PROOF_INPUT_INVALID'))
  }
  bad({ modelRoot: '0x1234' }, /modelRoot must be 0x \+ 64 hex/)
  bad({ executor: '0x' + 'zz'.repeat(20) }, /executor must be 0x \+ 40 hex/)
  bad({ epoch: 1n << 64n }, /outside \[0, 2\^64\)/)
  bad({ epoch: -1 }, /outside \[0, 2\^64\)/)
  bad({ epoch: 1.5 }, /must be an integer/)
  const receipt = { requestId: claim.requestId, modelId: claim.modelRoot, client: '0x' + '11'.repeat(20), outputHash: claim.outputHash, traceHash: claim.inputHash, executors: ['0x' + '22'.repeat(20), claim.executor], fee: '5' }
  t.deepEqual(receiptClaimOf(receipt, { epoch: claim.epoch, executorIndex: 1 }), claim)
  t.throws(() => receiptClaimOf(receipt, { epoch: 1, executorIndex: 2 }), { message: /no executor at index 2/ })
})

test('receipt witness: the TS commitment satisfies the circuit; r1cs check passes', async (t) => {
  const c = await loadCompiledCircuit('receipt')
  t.true(c.r1csInfo.nConstraints > 1000 && c.r1csInfo.nConstraints < 5000)
  t.is(c.r1csInfo.nPubIn + c.r1csInfo.nPubOut, 1)
  const wtns = await computeWitness(c, receiptInput(claim))
  const w = readWitness(wtns)
  t.is(w[0], 1n)
  t.is(w[1], receiptCommitment(claim))
  const snarkjs = await loadSnarkjs()
  t.true(await snarkjs.wtns.check(c.r1csPath, { type: 'mem', data: wtns }))
  // the same bytes as snarkjs's own witness calculation
  const viaSnarkjs: { type: 'mem', data?: Uint8Array } = { type: 'mem' }
  await snarkjs.wtns.calculate(receiptInput(claim), c.wasmPath, viaSnarkjs)
  t.deepEqual(Buffer.from(viaSnarkjs.data!), Buffer.from(wtns))
})

test('receipt witness: a wrong commitment or an out-of-range limb fails', async (t) => {
  const c = await loadCompiledCircuit('receipt')
  const input = receiptInput(claim)
  const wrong = { ...input, statement: dec(receiptCommitment({ ...claim, epoch: 1 })) }
  const e1 = await t.throwsAsync(computeWitness(c, wrong), { message: /Assert Failed/ })
  t.true(isVerimeshError(e1, 'PROOF_INPUT_INVALID'))
  // A limb of 2^128 with a matching hash: only the range check can refuse it.
  const f = receiptFields(claim)
  f[1] = 1n << 128n
  const forged = { ...input, modelRoot: [dec(f[0]!), dec(f[1])], statement: dec(hashChain(TAG.receipt, f)) }
  await t.throwsAsync(computeWitness(c, forged), { message: /Assert Failed/ })
  // An epoch of p − 1 (that is, −1) likewise.
  const g = receiptFields(claim)
  g[9] = P - 1n
  await t.throwsAsync(computeWitness(c, { ...input, epoch: dec(g[9]), statement: dec(hashChain(TAG.receipt, g)) }), { message: /Assert Failed/ })
})

test('receipt witness in the worker pool equals the in-thread one; errors keep their code', async (t) => {
  const c = await loadCompiledCircuit('receipt')
  const pool = createWitnessPool(1)
  try {
    const a = await computeWitnessInPool(pool, c, receiptInput(claim))
    t.deepEqual(Buffer.from(a), Buffer.from(await computeWitness(c, receiptInput(claim))))
    const err = await t.throwsAsync(computeWitnessInPool(pool, c, { ...receiptInput(claim), statement: '5' }))
    t.true(isVerimeshError(err, 'PROOF_INPUT_INVALID'))
  } finally {
    await pool.destroy()
  }
})

test('receipt proof with the INSECURE dev keys verifies; a changed public signal does not', async (t) => {
  t.timeout(5 * 60_000)
  const c = await loadCircuit('receipt')
  t.is(c.setup.notice.includes('INSECURE'), true)
  const snarkjs = await loadSnarkjs()
  const wtns = await computeWitness(c, receiptInput(claim))
  const { proof, publicSignals } = await snarkjs.groth16.prove(c.zkeyPath, { type: 'mem', data: wtns })
  t.deepEqual(publicSignals, receiptPublicSignals(claim))
  t.true(await snarkjs.groth16.verify(c.vkey, publicSignals, proof))
  t.false(await snarkjs.groth16.verify(c.vkey, receiptPublicSignals({ ...claim, epoch: 3 }), proof))
})

test('the exported Solidity verifier is labelled INSECURE and compiles', async (t) => {
  t.timeout(3 * 60_000)
  const c = await loadCircuit('receipt')
  const src = readFileSync(c.verifierPath, 'utf8')
  t.regex(src.split('\n')[0]!, /INSECURE DEVELOPMENT SETUP/)
  const solc = createRequire(import.meta.url)('solc') as { compile: (input: string) => string }
  const out = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources: { 'v.sol': { content: src } }, settings: { outputSelection: { '*': { '*': ['abi'] } } } }))) as { errors?: Array<{ severity: string, message: string }>, contracts?: Record<string, Record<string, unknown>> }
  t.deepEqual((out.errors ?? []).filter((e) => e.severity === 'error').map((e) => e.message), [])
  t.deepEqual(Object.keys(out.contracts?.['v.sol'] ?? {}), ['Groth16Verifier'])
})

test('build: a second run finds everything up to date', async (t) => {
  const lines: string[] = []
  const reports = await buildCircuits({ only: ['receipt'], log: (l) => lines.push(l) })
  t.is(reports.length, 1)
  t.false(reports[0]!.compiled)
  t.false(reports[0]!.setupDone)
  // (another test file's build may hold the lock: waiting is fine, working is not)
  t.deepEqual(lines.filter((l) => !l.startsWith('waiting for the circuits build')), [])
})

test('build arguments', (t) => {
  t.is(parseArgs(['--help']), 'help')
  t.deepEqual(parseArgs(['--only', 'receipt,iris_mlp', '--force', '--setup', 'snarkjs']), { force: true, compileOnly: false, setup: 'snarkjs', only: ['receipt', 'iris_mlp'] })
  t.throws(() => parseArgs(['--setup', 'gpu']), { message: /--setup must be/ })
  t.throws(() => parseArgs(['--bogus']), { message: /unknown argument/ })
  t.throws(() => parseArgs(['--only']), { message: /needs a value/ })
})

test('build: unknown circuit names are refused', async (t) => {
  await t.throwsAsync(buildCircuits({ only: ['nope'] }), { message: /no circuit named 'nope'/ })
})
