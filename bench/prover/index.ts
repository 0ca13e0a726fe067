// Suite 'prover': the native BN254 Groth16 prover (native/src/zk) against snarkjs 0.7.6
// on the same circuits, keys and witnesses, interleaved in the same run
// (bench/prover/README.md).
//
//   prove       synthetic chains at 2^12, 2^16, 2^18 (2^20 with VERIMESH_BENCH_PROVER_MAX=20)
//               and the product's receipt, tile_16x64 and iris_mlp circuits: native at 1 and
//               2 threads (MSM, NTT, total) vs snarkjs.groth16.prove; setup and witness times
//   verify      zkVerify vs snarkjs.groth16.verify on the same proof
//   gas         verifyProof of snarkjs's exported Solidity verifier on the embedded EVM
//   MSM / NTT   zkMsmBench (points/s, G1 and G2) and zkNttBench
//
// Options (environment): VERIMESH_BENCH_PROVER_MAX=20 adds 2^20; VERIMESH_BENCH_PROVER_SIZES=12,16
// picks sizes; VERIMESH_BENCH_PROVER_ROUNDS=n overrides the rounds per size;
// VERIMESH_BENCH_PROVER_TABLE_MB=n adds a configuration with a larger fixed-base table cap.
import { readFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import path from 'node:path'
import { Wallet } from 'ethers'
import { loadAddon, type Groth16ProofJson, type Groth16VerificationKeyJson, type VerimeshAddon, type ZkProver, type ZkProverLoadOptions } from '../../runtime/addon.js'
import { compileVerifier, Groth16VerifierClient } from '../../runtime/chain/groth16-verifier.js'
import { startEmbeddedChain } from '../../runtime/chain/embedded-chain.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import { loadSnarkjs, releaseSnarkjsCurve, warmSnarkjsCurve, type SnarkjsApi } from '../../circuits/snarkjs.js'
import { computeWitness } from '../../circuits/witness.js'
import { median, metric, type Metric, type Suite, type SuiteContext } from '../suite.js'
import { chainFixture, solidityVerifier } from './fixtures.js'
import { REAL_CIRCUITS, realCircuit, realInput } from './real.js'

const THREADS = [1, 2]
const SPEEDUP_TARGET = 8
const VERIFY_TARGET_MS = 1
const GAS_TARGET = 230_000

const load1 = (): string => loadavg()[0]!.toFixed(2)
const r0 = (x: number): number => Math.round(x)
const r1 = (x: number): number => Math.round(x * 10) / 10

function env (name: string): string | undefined {
  const v = process.env[name]
  return v === undefined || v === '' ? undefined : v
}

function sizes (quick: boolean): number[] {
  const explicit = env('VERIMESH_BENCH_PROVER_SIZES')
  if (explicit !== undefined) return explicit.split(',').map(Number).filter(k => k >= 10 && k <= 22)
  if (quick) return [12]
  const max = Number(env('VERIMESH_BENCH_PROVER_MAX') ?? '18')
  return [12, 16, 18, 20].filter(k => k <= max)
}

/** Measured rounds per workload (after the warm-up): fewer where snarkjs takes long. */
function roundsFor (log2Domain: number, quick: boolean): number {
  const forced = env('VERIMESH_BENCH_PROVER_ROUNDS')
  if (forced !== undefined) return Math.max(1, Number(forced))
  if (quick) return 2
  return log2Domain <= 13 ? 7 : log2Domain <= 16 ? 3 : log2Domain <= 18 ? 2 : 1
}

interface Workload {
  name: string
  zkeyPath: string
  vkey: Record<string, unknown>
  witness: () => Promise<Uint8Array>
  /** how the witness is computed, for the note */
  witnessHow: string
  setupMs: number
  setupNote: string
  constraints: number
}

interface Config { label: string, opts: ZkProverLoadOptions, prover: ZkProver }

interface ProveOutcome { metrics: Metric[], proof?: { proof: Groth16ProofJson, publicSignals: string[] } }

async function measureProve (ctx: SuiteContext, addon: VerimeshAddon, snarkjs: SnarkjsApi, w: Workload, warmSnarkjs: boolean): Promise<ProveOutcome> {
  const Prover = addon.ZkProver!
  const out: Metric[] = []

  // Witness: circom's wasm calculator (or the TS chain), median of a few.
  const wtnsTimes: number[] = []
  let wtns: Uint8Array = new Uint8Array()
  for (let i = 0; i < (ctx.quick ? 2 : 3); i++) {
    const t0 = performance.now()
    wtns = await w.witness()
    wtnsTimes.push(performance.now() - t0)
  }

  // Native provers: the addon's default load options (what a plain ZkProver.load gets), and
  // without tables when the default built some (else the two are the same configuration).
  const configs: Config[] = []
  const dflt = await Prover.load(w.zkeyPath)
  const info = dflt.info()
  const log2Domain = Math.round(Math.log2(info.domainSize))
  configs.push({ label: 'default', opts: {}, prover: dflt })
  if (info.tableBytes > 0) configs.push({ label: 'no tables', opts: { tables: false }, prover: await Prover.load(w.zkeyPath, { tables: false }) })
  const tableMb = Number(env('VERIMESH_BENCH_PROVER_TABLE_MB') ?? '0')
  if (tableMb > 0) configs.push({ label: `tables ≤${tableMb} MiB`, opts: { tableMaxMB: tableMb }, prover: await Prover.load(w.zkeyPath, { tableMaxMB: tableMb }) })
  const infos = configs.map(c => c.prover.info())
  const tablesWord = (i: number): string => infos[i]!.tableBytes > 0 ? `${(infos[i]!.tableBytes / 2 ** 20).toFixed(0)} MiB of fixed-base tables` : 'no tables'

  out.push(metric({ name: `${w.name}: setup`, value: w.setupMs, unit: 'ms', better: 'lower', note: w.setupNote }))
  out.push(metric({ name: `${w.name}: witness`, value: median(wtnsTimes), unit: 'ms', better: 'lower', note: `${w.witnessHow}; median of ${wtnsTimes.length}` }))
  for (let i = 0; i < configs.length; i++) {
    out.push(metric({ name: `${w.name}: key load (${configs[i]!.label})`, value: infos[i]!.loadMs + infos[i]!.tablesMs, unit: 'ms', better: 'lower', note: `ZkProver.load: read+validate ${r0(infos[i]!.loadMs)} ms, tables ${r0(infos[i]!.tablesMs)} ms (${tablesWord(i)}); once per key, not in the prove times` }))
  }

  // Interleaved rounds: snarkjs once, then every native configuration × threads, so a busy
  // machine loads them alike. snarkjs gets the zkey and witness from memory (no disk read in
  // its time; it still parses the zkey on every call: its API has no loaded-key form).
  const zkeyMem = { type: 'mem' as const, data: new Uint8Array(await readFile(w.zkeyPath)) }
  const rounds = roundsFor(log2Domain, ctx.quick)
  // A warm-up round (untimed) before every workload up to 2^18: snarkjs's first proof at a
  // new size is slower (its wasm memories grow); in --quick only before the first workload.
  const warm = warmSnarkjs || (!ctx.quick && log2Domain <= 18) ? 1 : 0
  const sj: number[] = []
  const nat = configs.map(() => THREADS.map(() => [] as Array<{ totalMs: number, msmMs: number, nttMs: number, abcMs: number }>))
  let kernel = ''
  let verified = 0
  let sample: ProveOutcome['proof']
  const loadAtStart = load1()
  ctx.log(`${w.name}: ${w.constraints} constraints, domain 2^${log2Domain}; ${rounds} round(s)${warm > 0 ? ' + warm-up' : ''}, configs: ${configs.map((c, i) => `${c.label} (${tablesWord(i)})`).join(', ')}`)
  // Native warm-up (page-faults the key and the scratch buffers in), not timed.
  for (const c of configs) await c.prover.prove(wtns, { threads: 2 })
  for (let r = 0; r < rounds + warm; r++) {
    const t0 = performance.now()
    const ref = await snarkjs.groth16.prove(zkeyMem, { type: 'mem', data: wtns })
    const sms = performance.now() - t0
    if (r === 0 && !await snarkjs.groth16.verify(w.vkey, ref.publicSignals, ref.proof)) throw new Error(`${w.name}: the snarkjs proof does not verify`)
    if (r >= warm) sj.push(sms)
    for (let c = 0; c < configs.length; c++) {
      for (let t = 0; t < THREADS.length; t++) {
        const p = await configs[c]!.prover.prove(wtns, { threads: THREADS[t] })
        kernel = p.kernel
        // Every native proof checked by snarkjs (untimed): a fast wrong proof is worthless.
        if (!await snarkjs.groth16.verify(w.vkey, p.publicSignals, p.proof as never)) throw new Error(`${w.name}: a native proof (${configs[c]!.label}, ${THREADS[t]!}T) does not verify with snarkjs`)
        if (JSON.stringify(p.publicSignals) !== JSON.stringify(ref.publicSignals)) throw new Error(`${w.name}: native and snarkjs public signals differ`)
        verified++
        sample ??= { proof: p.proof, publicSignals: p.publicSignals }
        if (r >= warm) nat[c]![t]!.push(p.timings)
      }
    }
    ctx.log(`${w.name}: round ${r + 1}/${rounds + warm}${r < warm ? ' (warm-up)' : ''}: snarkjs ${r0(sms)} ms, native ${nat.map(x => x.map(y => y.length > 0 ? r0(y[y.length - 1]!.totalMs) : '-').join('/')).join(', ')} ms (load ${load1()})`)
  }
  for (const c of configs) c.prover.close()

  const sjMed = median(sj)
  for (let c = 0; c < configs.length; c++) {
    for (let t = 0; t < THREADS.length; t++) {
      const runs = nat[c]![t]!
      const threads = THREADS[t]!
      const tag = `${configs[c]!.label}, ${threads}T`
      const msm = median(runs.map(x => x.msmMs)); const ntt = median(runs.map(x => x.nttMs)); const abc = median(runs.map(x => x.abcMs))
      out.push(metric({
        name: `${w.name}: prove (${tag})`,
        value: median(runs.map(x => x.totalMs)),
        unit: 'ms',
        better: 'lower',
        peer: 'snarkjs.groth16.prove',
        peerValue: sjMed,
        // The 8× target is for the same cores: snarkjs uses both through its worker threads.
        ...(threads === 2 ? { target: sjMed / SPEEDUP_TARGET } : {}),
        note: `median of ${runs.length} interleaved with snarkjs (snarkjs runs ${sj.map(r0).join(', ')} ms; native ${runs.map(x => r0(x.totalMs)).join(', ')} ms); ` +
          `MSM ${r1(msm)}, NTT ${r1(ntt)}, ABC ${r1(abc)} ms; kernel ${kernel}; ${tablesWord(c)}` +
          (threads === 2 ? `; target = snarkjs/${SPEEDUP_TARGET}` : '; snarkjs uses 2 cores here') + `; load ${loadAtStart}→${load1()}`
      }))
      if (c === 0) {
        // the proof's five MSMs (A, B1, B2 in G2, C, H) and the quotient's NTTs, medians
        out.push(metric({ name: `${w.name}: MSM part (${tag})`, value: msm, unit: 'ms', better: 'lower' }))
        out.push(metric({ name: `${w.name}: NTT part (${tag})`, value: ntt, unit: 'ms', better: 'lower' }))
      }
    }
  }
  ctx.log(`${w.name}: ${verified} native proofs verified by snarkjs.groth16.verify`)
  return { metrics: out, proof: sample }
}

async function measureVerify (ctx: SuiteContext, addon: VerimeshAddon, snarkjs: SnarkjsApi, name: string, vkey: Record<string, unknown>, p: { proof: Groth16ProofJson, publicSignals: string[] }): Promise<Metric> {
  const iters = ctx.quick ? 50 : 500
  const sjIters = ctx.quick ? 5 : 30
  const vk = vkey as unknown as Groth16VerificationKeyJson
  addon.zkVerify!(vk, p.proof, p.publicSignals)   // warm-up
  const native: number[] = []
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now()
    if (!addon.zkVerify!(vk, p.proof, p.publicSignals).valid) throw new Error('zkVerify refused a valid proof')
    native.push(performance.now() - t0)
  }
  await snarkjs.groth16.verify(vkey, p.publicSignals, p.proof as never)
  const js: number[] = []
  for (let i = 0; i < sjIters; i++) {
    const t0 = performance.now()
    if (!await snarkjs.groth16.verify(vkey, p.publicSignals, p.proof as never)) throw new Error('snarkjs refused a valid proof')
    js.push(performance.now() - t0)
  }
  // A wrong public signal must be refused by both (a verifier that says yes is fast).
  const wrong = [(BigInt(p.publicSignals[0]!) + 1n).toString(), ...p.publicSignals.slice(1)]
  if (addon.zkVerify!(vk, p.proof, wrong).valid) throw new Error('zkVerify accepted a wrong public signal')
  return metric({
    name: `verify (${name} proof, ${p.publicSignals.length} public)`,
    value: median(native),
    unit: 'ms',
    better: 'lower',
    peer: 'snarkjs.groth16.verify',
    peerValue: median(js),
    target: VERIFY_TARGET_MS,
    note: `wall time per call, median of ${iters} (snarkjs: ${sjIters}); min ${Math.min(...native).toFixed(3)} ms; a wrong public signal is refused`
  })
}

async function measureGas (ctx: SuiteContext, verifiers: Array<{ name: string, sol: string, proof: { proof: Groth16ProofJson, publicSignals: string[] } }>): Promise<Metric[]> {
  const out: Metric[] = []
  const chain = await startEmbeddedChain({ accounts: 2 })
  const provider = connectProvider(chain.url, { chainId: chain.chainId })
  try {
    const signer = new Wallet((chain.accounts[0] as { privateKey: string }).privateKey, provider)
    for (const v of verifiers) {
      const client = await Groth16VerifierClient.deploy(compileVerifier(v.sol), signer, v.proof.publicSignals.length)
      if (!await client.verify(v.proof.proof, v.proof.publicSignals)) throw new Error(`${v.name}: the on-chain verifier refused a native proof`)
      const gas = await client.estimateGas(v.proof.proof, v.proof.publicSignals)
      ctx.log(`${v.name}: verifyProof gas ${gas}`)
      out.push(metric({
        name: `on-chain verifyProof gas (${v.name})`,
        value: Number(gas),
        unit: 'gas',
        better: 'lower',
        target: GAS_TARGET,
        note: `eth_estimateGas of a verifyProof transaction (21 k intrinsic + calldata included), snarkjs's exported verifier, ${v.proof.publicSignals.length} public signal(s), native proof, embedded EVM`
      }))
    }
  } finally {
    provider.destroy()
    await chain.stop()
  }
  return out
}

async function msmNtt (ctx: SuiteContext, addon: VerimeshAddon): Promise<Metric[]> {
  const out: Metric[] = []
  const logs = ctx.quick ? [12] : [16, 18]
  const reps = ctx.quick ? 1 : 3
  for (const k of logs) {
    for (const group of ['g1', 'g2'] as const) {
      for (const threads of THREADS) {
        const rs = []
        for (let i = 0; i < reps; i++) rs.push(await addon.zkMsmBench!(1 << k, { threads, group }))
        const ms = median(rs.map(r => r.ms))
        out.push(metric({ name: `MSM ${group.toUpperCase()} 2^${k} ${threads}T`, value: (1 << k) / (ms / 1000), unit: 'points/s', better: 'higher', note: `${r1(ms)} ms, median of ${reps}; Pippenger on seeded random points/scalars, no fixed-base tables; kernel ${rs[0]!.kernel}${rs[0]!.glv === undefined ? '' : `, GLV ${rs[0]!.glv ? 'on' : 'off'}`} (the addon's default path); load ${load1()}` }))
      }
    }
    for (const threads of THREADS) {
      const rs = []
      for (let i = 0; i < (ctx.quick ? 1 : 5); i++) rs.push(await addon.zkNttBench!(k, { threads }))
      out.push(metric({ name: `NTT 2^${k} ${threads}T`, value: median(rs.map(r => r.ms)), unit: 'ms', better: 'lower', note: `one forward NTT over Fr, median of ${rs.length}` }))
    }
    ctx.log(`MSM/NTT 2^${k} done (load ${load1()})`)
  }
  return out
}

export const suite: Suite = {
  name: 'prover',
  description: 'Groth16 BN254: native prover vs snarkjs 0.7.6 on the same circuits, keys and witnesses (same run); verify; MSM/NTT; on-chain gas',
  run: async (ctx) => {
    const addon = loadAddon()
    if (addon.ZkProver === undefined || addon.zkSetupDev === undefined || addon.zkVerify === undefined || addon.zkMsmBench === undefined || addon.zkNttBench === undefined) {
      throw new Error(`the addon at ${addon.path} has no Groth16 prover: rebuild it (npx node-gyp rebuild)`)
    }
    const snarkjs = await loadSnarkjs()
    await warmSnarkjsCurve()
    const metrics: Metric[] = []
    const verifiers: Array<{ name: string, sol: string, proof: { proof: Groth16ProofJson, publicSignals: string[] } }> = []
    let verifyMetric: Metric | undefined
    let first = true
    try {
      // Real circuits first (small), then the synthetic sizes.
      const real = ctx.quick ? ['receipt', 'tile_16x64'] as const : REAL_CIRCUITS
      for (const name of real) {
        const c = await realCircuit(name, ctx.log)
        const input = realInput(name)
        const w: Workload = {
          name,
          zkeyPath: c.zkeyPath,
          vkey: c.vkey,
          witness: async () => await computeWitness(c, input),
          witnessHow: 'circom wasm calculator (circuits/witness.ts computeWitness)',
          setupMs: c.setup.ms,
          setupNote: `${c.setup.backend} dev setup from the circuits build (npm run circuits:build), not this run; snarkjs's setup not run`,
          constraints: c.r1csInfo.nConstraints
        }
        const r = await measureProve(ctx, addon, snarkjs, w, first)
        first = false
        metrics.push(...r.metrics)
        if (r.proof !== undefined) verifiers.push({ name, sol: c.verifierPath, proof: r.proof })
      }
      for (const k of sizes(ctx.quick)) {
        const f = await chainFixture(addon, k, ctx.log)
        const when = f.built ? 'this run' : `cached build of ${f.meta.builtAt} (load ${f.meta.builtLoadavg[0] ?? '?'})`
        const w: Workload = {
          name: f.name,
          zkeyPath: f.zkeyPath,
          vkey: f.vkey,
          witness: f.witness,
          witnessHow: f.meta.source === 'circom'
            ? 'circom wasm calculator of the circom2-compiled chain'
            : 'NOT circom: the chain computed in TypeScript (bigint) and written as .wtns; circom2 is too slow to compile this size',
          setupMs: f.meta.setupMs,
          setupNote: `zkSetupDev (INSECURE dev setup), ${f.meta.setupThreads} threads, ${when}; ${f.meta.source === 'circom' ? `circom2 compile ${r0(f.meta.compileMs / 1000)} s` : 'r1cs written in TS'}; snarkjs's setup (powers of tau + newZKey) not run: far too slow beyond 2^12`,
          constraints: f.meta.constraints
        }
        const r = await measureProve(ctx, addon, snarkjs, w, first)
        first = false
        metrics.push(...r.metrics)
        if (r.proof !== undefined && verifyMetric === undefined) {
          verifyMetric = await measureVerify(ctx, addon, snarkjs, f.name, f.vkey, r.proof)
          verifiers.unshift({ name: f.name, sol: await solidityVerifier(f.zkeyPath, path.join(f.dir, 'Verifier.sol')), proof: r.proof })
        }
      }
      if (verifyMetric !== undefined) metrics.push(verifyMetric)
      metrics.push(...await measureGas(ctx, verifiers))
      metrics.push(...await msmNtt(ctx, addon))
    } finally {
      await releaseSnarkjsCurve()
    }
    return metrics
  }
}
