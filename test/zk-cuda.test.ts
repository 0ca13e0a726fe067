// The prover's GPU kernels (native/cuda/zk_cuda.cu: BN254 MSM on G1/G2, NTT,
// coset shift) against the CPU prover (native/src/zk/ msm_g1, msm_g2, ntt,
// apply_key), byte for byte after normalisation, at two levels:
//
//  1. vm_zk_cuda_emu (and its ASan/UBSan build): the kernels and their host code,
//     unchanged, on the host emulation of CUDA (native/cuda/emu/cuda_emu.h), plus
//     the __host__ __device__ field and curve arithmetic on random and edge values.
//     Runs wherever `npm run build:cuda` has run; no GPU needed.
//  2. zkCudaCheck in the CUDA build's addon: the same comparisons on a real GPU at
//     larger sizes. Needs the CUDA build and a GPU.
//
// Tests that cannot run here are registered as skipped, with the reason in the title.

import test, { type ExecutionContext } from 'ava'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { AddonLoader, loadAddon, type ZkProveResult, type ZkProverConstructor, type VerimeshAddon, type ZkCudaCheckKind } from '../runtime/addon.js'
import { buildFixture, loadSnarkjs, poseidonCircuit, terminateCurves, type ZkFixture } from './zk-fixture.js'

const loader = new AddonLoader()
const releaseDir = path.join(loader.root, 'build-cuda', 'Release')
const cudaAddonPath = path.join(releaseDir, 'verimesh_native.node')
const emuPath = path.join(releaseDir, 'vm_zk_cuda_emu')
const emuAsanPath = path.join(releaseDir, 'vm_zk_cuda_emu_asan')
const noBuild = (file: string): string => `no ${path.relative(loader.root, file)}; run \`npm run build:cuda\``

type ZkCudaAddon = Required<Pick<VerimeshAddon, 'zkCudaStatus' | 'zkCudaCheck'>>

// What the CUDA build says about this machine, decided at load time so that the
// GPU tests can be registered as skipped with the reason.
let zk: ZkCudaAddon | undefined
let cudaProver: ZkProverConstructor | undefined
let loadError = ''
if (existsSync(cudaAddonPath)) {
  try {
    const a = loadAddon({ path: cudaAddonPath })
    cudaProver = a.ZkProver
    if (a.zkCudaStatus !== undefined && a.zkCudaCheck !== undefined) zk = { zkCudaStatus: a.zkCudaStatus, zkCudaCheck: a.zkCudaCheck }
    else loadError = 'build-cuda holds an addon without the prover kernels (zkCudaStatus); rebuild with `npm run build:cuda`'
  } catch (err) {
    loadError = `the CUDA build does not load: ${err instanceof Error ? err.message : String(err)}`
  }
}
const status = zk?.zkCudaStatus()
const addonSkip = zk !== undefined ? '' : loadError !== '' ? loadError : noBuild(cudaAddonPath)
const gpuSkip = addonSkip !== '' ? addonSkip : status?.available === true ? '' : `no usable GPU: ${status?.reason ?? '?'}`
const noGpuSkip = addonSkip !== '' ? addonSkip : status?.available === true ? 'a GPU is present' : ''

function register (title: string, skip: string, fn: (t: ExecutionContext) => void | Promise<void>): void {
  if (skip === '') test(title, fn)
  else test.skip(`${title} (skipped: ${skip})`, fn)
}

// ---------------------------------------------------------------- 1. emulation

interface Run { status: number | null, out: string, err: string }

function runTool (tool: string, args: string[], env: NodeJS.ProcessEnv = {}): Run {
  const r = spawnSync(tool, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 16 << 20 })
  if (r.error !== undefined) throw r.error
  return { status: r.status, out: r.stdout, err: r.stderr }
}

/** One emulated comparison: exit 0 and exactly the expected "ok" line(s). Returns the output lines. */
function expectOk (t: ExecutionContext, tool: string, args: string[], okLines: Array<string | RegExp>, env: NodeJS.ProcessEnv = {}): string[] {
  const r = runTool(tool, args, env)
  t.is(r.status, 0, `${path.basename(tool)} ${args.join(' ')}: exit ${String(r.status)}\n${r.out}\n${r.err.slice(-2000)}`)
  const lines = r.out.trim().split('\n')
  t.is(lines.length, okLines.length, `${args.join(' ')}: ${r.out}`)
  okLines.forEach((want, i) => {
    if (typeof want === 'string') t.is(lines[i], want, args.join(' '))
    else t.regex(lines[i] ?? '', want, args.join(' '))
  })
  return lines
}

const emuSkip = existsSync(emuPath) ? '' : noBuild(emuPath)
const asanSkip = existsSync(emuAsanPath) ? '' : noBuild(emuAsanPath)

register('emulated: __host__ field and curve arithmetic equals field.h / curve.h (Fq, Fr, Fq2, G1, G2)', emuSkip, (t) => {
  // Counts are printed by the tool only after every comparison ran, so a short
  // run (a crash or an early exit) fails here even if it printed no mismatch.
  const count = 20000
  expectOk(t, emuPath, ['field', String(count), '20261122'], [
    `ok fq ${count * 6} operations`,
    `ok fr ${count * 6} operations`,
    `ok fq2 ${count * 5} operations`,
    `ok g1 ${(count / 50) * 8} operations`,
    `ok g2 ${(count / 100) * 8} operations`
  ])
})

const MSM_PATTERNS = ['random', 'mixed', 'ones', 'zeros'] as const
// All-zero scalars must give infinity; a random case may (n = 1 with a zero
// scalar or an infinity base) but the large ones must not (checked below).
const okMsm = (g: string, n: number, p: string): string | RegExp =>
  p === 'zeros' || n === 0 ? `ok msm ${g} n=${n} ${p} (infinity)` : new RegExp(`^ok msm ${g} n=${n} ${p}( \\(infinity\\))?$`)
const finiteIfLarge = (t: ExecutionContext, lines: string[], n: number): void => {
  if (n >= 100) t.false(lines[0]!.endsWith('(infinity)'), lines[0])
}

register('emulated: GPU MSM on G1 equals msm_g1 (n 1…2000; zero scalars, infinity, repeated and negated bases, one long bucket)', emuSkip, (t) => {
  // n up to 16 uses the small-window path (buckets reduced on the host), larger n the group and window kernels.
  for (const n of [1, 2, 3, 7, 16, 31, 100, 257, 1000, 2000]) {
    for (const p of MSM_PATTERNS) {
      const lines = expectOk(t, emuPath, ['msm', 'g1', String(n), String(1000 + n), p], [okMsm('g1', n, p)])
      if (p !== 'zeros') finiteIfLarge(t, lines, n)
    }
  }
  expectOk(t, emuPath, ['msm', 'g1', '0', '1', 'random'], ['ok msm g1 n=0 random (infinity)'])
})

register('emulated: GPU MSM on G2 equals msm_g2', emuSkip, (t) => {
  for (const n of [1, 2, 5, 64, 300, 1000]) {
    for (const p of MSM_PATTERNS) {
      const lines = expectOk(t, emuPath, ['msm', 'g2', String(n), String(2000 + n), p], [okMsm('g2', n, p)])
      if (p !== 'zeros') finiteIfLarge(t, lines, n)
    }
  }
})

register('emulated: GPU NTT, inverse NTT, apply_key and coset evaluation equal ntt / apply_key (2^0…2^12)', emuSkip, (t) => {
  for (let k = 0; k <= 12; k++) {
    expectOk(t, emuPath, ['ntt', String(k), String(300 + k)], [`ok ntt intt apply_key to_coset 2^${k}`])
  }
})

register('emulated: results do not depend on the thread order within a block (VM_EMU_ORDER=reverse)', emuSkip, (t) => {
  const env = { VM_EMU_ORDER: 'reverse' }
  expectOk(t, emuPath, ['msm', 'g1', '2000', '77', 'mixed'], [okMsm('g1', 2000, 'mixed')], env)
  expectOk(t, emuPath, ['msm', 'g2', '700', '78', 'ones'], [okMsm('g2', 700, 'ones')], env)
  expectOk(t, emuPath, ['ntt', '11', '79'], ['ok ntt intt apply_key to_coset 2^11'], env)
})

register('emulated: an MSM split into several GPU passes (VERIMESH_ZK_CUDA_MSM_CHUNK) gives the same point', emuSkip, (t) => {
  for (const chunk of ['1', '7', '300']) {
    const env = { VERIMESH_ZK_CUDA_MSM_CHUNK: chunk }
    expectOk(t, emuPath, ['msm', 'g1', '1000', '41', 'mixed'], [okMsm('g1', 1000, 'mixed')], env)
    expectOk(t, emuPath, ['msm', 'g2', '200', '42', 'ones'], [okMsm('g2', 200, 'ones')], env)
  }
})

register('emulated under AddressSanitizer/UBSan: no out-of-bounds access or undefined behaviour in the kernels', asanSkip, async (t) => {
  expectOk(t, emuAsanPath, ['field', '500', '5'], [
    'ok fq 3000 operations', 'ok fr 3000 operations', 'ok fq2 2500 operations', 'ok g1 80 operations', 'ok g2 40 operations'
  ])
  for (const [g, n, p] of [['g1', 1, 'random'], ['g1', 600, 'mixed'], ['g1', 1500, 'ones'], ['g2', 9, 'mixed'], ['g2', 400, 'mixed']] as const) {
    expectOk(t, emuAsanPath, ['msm', g, String(n), '9', p], [okMsm(g, n, p)])
  }
  for (const k of [0, 1, 9]) expectOk(t, emuAsanPath, ['ntt', String(k), '9'], [`ok ntt intt apply_key to_coset 2^${k}`])
  const f = await proverFixture()
  expectOk(t, emuAsanPath, ['prove', f.zkey, f.wtnsPath, '9'], [/^ok prove nVars=\d+ domain=\d+ \(emulated GPU: 3 coset NTTs, 4 G1 MSMs, 1 G2 MSM\)$/])
})

register('vm_zk_cuda_emu rejects malformed arguments with exit 2', emuSkip, (t) => {
  for (const args of [[], ['msm', 'g3', '10', '1', 'random'], ['msm', 'g1', '10', '1', 'sorted'], ['ntt', '21', '1'], ['bogus']]) {
    const r = runTool(emuPath, args)
    t.is(r.status, 2, args.join(' '))
    t.regex(r.err, /usage/)
  }
})

// ---------------------------------------------------------------- 2. real GPU

register('CUDA build without a usable GPU: zkCudaStatus says why and zkCudaCheck rejects with ZK_CUDA_UNAVAILABLE', noGpuSkip, (t) => {
  const s = zk!.zkCudaStatus()
  t.false(s.available)
  t.true(s.reason.length > 0)
  t.is(s.device, '')
  const err = t.throws(() => { void zk!.zkCudaCheck('msm_g1', 10) })
  t.is((err as Error & { code?: string }).code, 'ZK_CUDA_UNAVAILABLE')
  t.true(err!.message.includes(s.reason))
})

register('zkCudaCheck rejects bad arguments with a precise error', addonSkip, (t) => {
  t.throws(() => { void zk!.zkCudaCheck('msm_g3' as ZkCudaCheckKind, 10) }, { message: /kind must be/ })
  t.throws(() => { void zk!.zkCudaCheck('ntt', 25) }, { message: /log2n must be an integer in \[0, 24\]/ })
  t.throws(() => { void zk!.zkCudaCheck('msm_g1', 1.5) }, { message: /n must be an integer/ })
  t.throws(() => { void zk!.zkCudaCheck('msm_g1', 10, 1, 'sorted') }, { message: /pattern must be/ })
})

async function gpuCase (t: ExecutionContext, kind: ZkCudaCheckKind, size: number, seed: number, pattern?: string): Promise<void> {
  const r = await zk!.zkCudaCheck(kind, size, seed, pattern)
  t.log(`${r.summary}: cpu ${r.cpuMs.toFixed(1)} ms, gpu ${r.gpuMs.toFixed(1)} ms`)
  t.true(r.equal, `${r.summary}: ${r.detail}`)
}

register(`GPU: zkCudaStatus names the device (${status?.device ?? ''})`, gpuSkip, (t) => {
  const s = zk!.zkCudaStatus()
  t.true(s.available)
  t.is(s.reason, '')
  t.regex(s.device, /\(sm_\d+, \d+ MB\)$/)
})

register('GPU: MSM on G1 equals msm_g1 (n up to 2^18, all input patterns)', gpuSkip, async (t) => {
  for (const n of [1, 16, 2000]) for (const p of MSM_PATTERNS) await gpuCase(t, 'msm_g1', n, n, p)
  for (const n of [1 << 14, 1 << 16, (1 << 18) + 3]) {
    await gpuCase(t, 'msm_g1', n, n, 'mixed')
    await gpuCase(t, 'msm_g1', n, n + 1, 'random')
  }
  await gpuCase(t, 'msm_g1', 1 << 16, 5, 'ones')
})

register('GPU: MSM on G2 equals msm_g2 (n up to 2^15)', gpuSkip, async (t) => {
  for (const n of [1, 300]) for (const p of MSM_PATTERNS) await gpuCase(t, 'msm_g2', n, n, p)
  await gpuCase(t, 'msm_g2', 1 << 15, 3, 'mixed')
  await gpuCase(t, 'msm_g2', 1 << 13, 4, 'ones')
})

register('GPU: NTT, inverse NTT, apply_key and coset evaluation equal the CPU (2^0…2^20)', gpuSkip, async (t) => {
  for (let k = 0; k <= 20; k++) await gpuCase(t, 'ntt', k, 500 + k)
})

// ---------------------------------------------------------------- 3. the prover's backend option

// A circuit of its own (not zk-native's 'tiny'): fixtures are rebuilt in place,
// and two test files building the same one at once would clobber each other.
let fixture: Promise<ZkFixture> | undefined
async function proverFixture (): Promise<ZkFixture> {
  if (fixture === undefined) {
    const c = poseidonCircuit(1, 5)
    fixture = buildFixture('zkcuda', c.source, c.input, 10)
  }
  return await fixture
}
// ffjavascript caches one bn128 curve (with worker threads) per process, but two
// snarkjs calls racing to build it would leave one unterminated: build it once here.
let usedSnarkjs = false
test.before(async t => {
  if (emuSkip !== '' && proverSkip !== '') return
  // First run only: circom2 compiles, a 2^10 powers of tau and a zkey (cached under .verimesh/tmp-zk-test).
  t.timeout(10 * 60_000, 'building the circom fixture')
  usedSnarkjs = true
  await proverFixture()
  await (await loadSnarkjs()).curves.getCurveFromName('bn128')
})
test.after.always(async () => { if (usedSnarkjs) await terminateCurves() })

async function proveAndVerify (t: ExecutionContext, backend: 'cpu' | 'cuda' | 'auto', Prover: ZkProverConstructor = cudaProver!): Promise<ZkProveResult> {
  const f = await proverFixture()
  const snarkjs = await loadSnarkjs()
  const prover = await Prover.load(f.zkey)
  try {
    const r = await prover.prove(f.wtns, { backend, threads: 1 })
    t.true(await snarkjs.groth16.verify(f.vkey, r.publicSignals, r.proof), `backend ${backend} (ran on ${r.backend})`)
    return r
  } finally {
    prover.close()
  }
}

const proverSkip = addonSkip !== '' ? addonSkip : cudaProver === undefined ? 'the CUDA build has no ZkProver' : ''

// The CPU build (binding.gyp) has the same option and says why it cannot use a GPU.
const cpuAddonPath = path.join(loader.root, 'build', 'Release', 'verimesh_native.node')
let cpuProver: ZkProverConstructor | undefined
let cpuSkip = ''
if (!existsSync(cpuAddonPath)) cpuSkip = 'no build/Release/verimesh_native.node; run `npx node-gyp rebuild`'
else {
  try {
    cpuProver = loadAddon({ path: cpuAddonPath }).ZkProver
    if (cpuProver === undefined) cpuSkip = 'the CPU build has no ZkProver'
  } catch (err) {
    cpuSkip = `the CPU build does not load: ${err instanceof Error ? err.message : String(err)}`
  }
}

register('emulated: the whole prover through the GPU dispatch hook gives the CPU prover\'s proof, byte for byte', emuSkip, async (t) => {
  const f = await proverFixture()
  for (const seed of ['1', '2']) {
    expectOk(t, emuPath, ['prove', f.zkey, f.wtnsPath, seed],
      [/^ok prove nVars=\d+ domain=\d+ \(emulated GPU: 3 coset NTTs, 4 G1 MSMs, 1 G2 MSM\)$/])
  }
  const r = runTool(emuPath, ['prove', path.join(f.dir, 'missing.zkey'), f.wtnsPath, '1'])
  t.is(r.status, 3)
  t.regex(r.out, /^THREW cannot open/)
})

register('CUDA build: prove() with backend \'cpu\' runs on the CPU and its proof verifies with snarkjs', proverSkip, async (t) => {
  const r = await proveAndVerify(t, 'cpu')
  t.is(r.backend, 'cpu')
  t.is(r.backendFallback, '')
})

register('CUDA build without a usable GPU: prove() with backend \'cuda\' / \'auto\' falls back to the CPU with the reason', proverSkip !== '' ? proverSkip : noGpuSkip, async (t) => {
  for (const backend of ['cuda', 'auto'] as const) {
    const r = await proveAndVerify(t, backend)
    t.is(r.backend, 'cpu')
    t.is(r.backendFallback, `no usable GPU: ${status!.reason}`)
  }
})

register('prove() rejects an unknown backend with ZK_BAD_INPUT', proverSkip, async (t) => {
  const f = await proverFixture()
  const prover = await cudaProver!.load(f.zkey)
  try {
    const err = await t.throwsAsync(prover.prove(f.wtns, { backend: 'tpu' as 'cpu' }))
    t.is((err as Error & { code?: string }).code, 'ZK_BAD_INPUT')
    t.regex(err!.message, /backend must be 'cpu', 'cuda' or 'auto'/)
  } finally {
    prover.close()
  }
})

register('GPU: prove() with backend \'cuda\' runs the coset NTTs and MSMs on the GPU and its proof verifies with snarkjs', proverSkip !== '' ? proverSkip : gpuSkip, async (t) => {
  for (const backend of ['cuda', 'auto'] as const) {
    const r = await proveAndVerify(t, backend)
    t.is(r.backend, 'cuda')
    t.is(r.backendFallback, '')
  }
})

register('CPU build: prove() with backend \'cuda\' / \'auto\' runs on the CPU and says the addon has no CUDA', cpuSkip, async (t) => {
  for (const backend of ['cuda', 'auto'] as const) {
    const r = await proveAndVerify(t, backend, cpuProver)
    t.is(r.backend, 'cpu')
    t.is(r.backendFallback, 'this addon was built without CUDA (npm run build:cuda)')
  }
})
