// Native Groth16 prover vs snarkjs on the same zkey and witness, and MSM/NTT
// throughput. Circuits: chained Poseidon hashes plus multiplications, compiled
// with circom2 and set up with the addon's known-tau development setup, cached
// under .verimesh/tmp-zk-test/. Usage:
//   node dist/bench/prover/prove.js [--sizes 12,16] [--threads 1,2] [--reps 3] [--msm 16] [--table-mb 160]
// Prints one JSON line per measurement; timings are medians over --reps rounds, and
// speedupVsSnarkjs is the median of the per-round ratios (same round, same load).

import { loadAddon } from '../../runtime/addon.js'
import { buildFixture, loadSnarkjs, poseidonCircuit, terminateCurves } from '../../test/zk-fixture.js'

function arg (name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt
}
const list = (s: string): number[] => s.split(',').filter(x => x !== '').map(Number)
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]! }

// A chained Poseidon(2) costs about 240 constraints with --O2; fill about 90% of the 2^k domain.
function circuitFor (k: number): { hashes: number, mults: number } {
  const target = Math.floor((1 << k) * 0.9)
  const mults = Math.max(8, target >> 6)
  return { hashes: Math.max(1, Math.floor((target - mults) / 240)), mults }
}

async function main (): Promise<void> {
  const sizes = list(arg('sizes', '12'))
  const threadsList = list(arg('threads', '1,2'))
  const reps = Number(arg('reps', '3'))
  const msmLog = list(arg('msm', '16')).filter(k => k > 0)   // --msm 0: none
  const addon = loadAddon()
  if (addon.ZkProver === undefined || addon.zkMsmBench === undefined || addon.zkNttBench === undefined) {
    throw new Error(`the addon at ${addon.path} has no prover: rebuild it`)
  }
  const snarkjs = await loadSnarkjs()
  for (const k of sizes) {
    const { hashes, mults } = circuitFor(k)
    const c = poseidonCircuit(hashes, mults)
    const t0 = Date.now()
    const f = await buildFixture(`bench${k}`, c.source, c.input, k, 'native-dev')
    let prover = await addon.ZkProver.load(f.zkey)
    const info = prover.info()
    console.log(JSON.stringify({ what: 'fixture', k, hashes, mults, ...info, setupS: (Date.now() - t0) / 1000 }))
    const plain = await addon.ZkProver.load(f.zkey, { tables: false })
    // --table-mb N: a larger per-table cap than the default 48 MiB (e.g. 160 at 2^16).
    const tableMb = Number(arg('table-mb', '0'))
    if (tableMb > 0) {
      prover.close()
      const t1 = Date.now()
      prover = await addon.ZkProver.load(f.zkey, { tableMaxMB: tableMb })
      console.log(JSON.stringify({ what: 'tables', k, tableMaxMB: tableMb, ...prover.info(), loadS: (Date.now() - t1) / 1000 }))
    }
    // Interleaved: each round runs snarkjs and every native configuration once, so
    // that a shared, busy machine loads them alike; the first round is a warm-up.
    const configs = [true, false].flatMap(tables => threadsList.map(threads => ({ tables, threads })))
    const sj: number[] = []
    const nat = configs.map(() => [] as Array<{ totalMs: number, msmMs: number, nttMs: number, abcMs: number }>)
    const ratios = configs.map(() => [] as number[])
    let kernel = ''
    for (let i = 0; i < reps + 1; i++) {
      const s0 = Date.now()
      const ref = await snarkjs.groth16.prove(f.zkey, f.wtnsPath)
      const sms = Date.now() - s0
      if (i === 0 && !await snarkjs.groth16.verify(f.vkey, ref.publicSignals, ref.proof)) throw new Error('snarkjs proof does not verify')
      if (i > 0) sj.push(sms)
      for (let j = 0; j < configs.length; j++) {
        const { tables, threads } = configs[j]!
        const r = await (tables ? prover : plain).prove(f.wtns, { threads })
        if (i === 0 && !await snarkjs.groth16.verify(f.vkey, r.publicSignals, r.proof)) throw new Error('native proof does not verify')
        kernel = r.kernel
        if (i > 0) { nat[j]!.push(r.timings); ratios[j]!.push(sms / r.timings.totalMs) }
      }
    }
    console.log(JSON.stringify({ what: 'snarkjs.groth16.prove', k, domainSize: info.domainSize, ms: median(sj), runs: sj }))
    for (let j = 0; j < configs.length; j++) {
      const runs = nat[j]!
      console.log(JSON.stringify({
        what: 'native prove', k, ...configs[j], kernel, ms: median(runs.map(r => r.totalMs)), msmMs: median(runs.map(r => r.msmMs)),
        nttMs: median(runs.map(r => r.nttMs)), abcMs: median(runs.map(r => r.abcMs)),
        runs: runs.map(r => Math.round(r.totalMs)), speedupVsSnarkjs: median(ratios[j]!)
      }))
    }
    prover.close()
    plain.close()
  }
  for (const k of msmLog) {
    for (const threads of threadsList) {
      const rs = []
      for (let i = 0; i < reps; i++) rs.push(await addon.zkMsmBench(1 << k, { threads, group: 'g1' }))
      console.log(JSON.stringify({ what: 'msm g1', n: 1 << k, threads, kernel: rs[0]!.kernel, ms: median(rs.map(r => r.ms)), pointsPerSec: Math.round(median(rs.map(r => r.pointsPerSec))) }))
    }
  }
  await terminateCurves()
}

main().catch(err => { console.error(err); process.exit(1) })
