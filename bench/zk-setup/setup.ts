// The INSECURE development setup (zkSetupDev) at several circuit sizes, and the
// native Groth16 verifier against snarkjs's. Usage:
//   node dist/bench/zk-setup/setup.js [--sizes 12,16,18] [--threads 2] [--verify 200]
// Prints one JSON line per measurement.
//
// Setup circuits are synthetic .r1cs files written here (not compiled with
// circom2, which takes minutes at 2^18): a chain t[i+1] = t[i]·t[i] + y filling
// ~94% of the 2^k domain, with one public input and one public output, the
// shape circom emits for the same circuit. The setup reads nothing but the r1cs.
// The verifier uses a real circom circuit and a snarkjs proof.

import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadAddon, type Groth16ProofJson, type Groth16VerificationKeyJson } from '../../runtime/addon.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const DIR = path.join(ROOT, '.verimesh', 'tmp-zk-bench')
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n

function arg (name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt
}
const list = (s: string): number[] => s.split(',').filter(x => x !== '').map(Number)
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1]! }

/** iden3 .r1cs for the chain: wires 0 = 1, 1 = out, 2 = y, 3 = x = t[0], 4.. = t[1..m]. */
function chainR1cs (m: number): Uint8Array {
  const nVars = 4 + m
  const fr = (v: bigint): Uint8Array => { const b = new Uint8Array(32); let x = ((v % R) + R) % R; for (let i = 0; i < 32; i++) { b[i] = Number(x & 0xffn); x >>= 8n } return b }
  const one = fr(1n); const minusOne = fr(-1n)
  const t = (i: number): number => i === 0 ? 3 : 3 + i
  const parts: Uint8Array[] = []
  const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b }
  const term = (wire: number, c: Uint8Array): void => { parts.push(u32(wire), c) }
  for (let i = 0; i < m; i++) {   // t[i]·t[i] = t[i+1] - y
    parts.push(u32(1)); term(t(i), one)
    parts.push(u32(1)); term(t(i), one)
    parts.push(u32(2)); term(t(i + 1), one); term(2, minusOne)
  }
  parts.push(u32(0), u32(0), u32(2)); term(1, one); term(t(m), minusOne)   // 0·0 = out - t[m]
  const constraints = Buffer.concat(parts)
  const header = Buffer.alloc(64)
  header.writeUInt32LE(32, 0)
  let r = R
  for (let i = 0; i < 32; i++) { header[4 + i] = Number(r & 0xffn); r >>= 8n }
  header.writeUInt32LE(nVars, 36)
  header.writeUInt32LE(1, 40)        // outputs
  header.writeUInt32LE(1, 44)        // public inputs
  header.writeUInt32LE(1, 48)        // private inputs
  header.writeBigUInt64LE(BigInt(nVars), 52)
  header.writeUInt32LE(m + 1, 60)
  const map = Buffer.alloc(8 * nVars)
  for (let i = 0; i < nVars; i++) map.writeBigUInt64LE(BigInt(i), 8 * i)
  const section = (id: number, body: Buffer): Buffer => {
    const h = Buffer.alloc(12); h.writeUInt32LE(id, 0); h.writeBigUInt64LE(BigInt(body.length), 4)
    return Buffer.concat([h, body])
  }
  const head = Buffer.alloc(12); head.write('r1cs', 0, 'latin1'); head.writeUInt32LE(1, 4); head.writeUInt32LE(3, 8)
  return Buffer.concat([head, section(1, header), section(2, constraints), section(3, map)])
}

interface Snarkjs {
  groth16: {
    fullProve: (input: unknown, wasm: string, zkey: string) => Promise<{ proof: Groth16ProofJson, publicSignals: string[] }>
    verify: (vk: unknown, publicSignals: string[], proof: unknown) => Promise<boolean>
  }
  zKey: { exportVerificationKey: (zkey: string) => Promise<Groth16VerificationKeyJson> }
  curves: { getCurveFromName: (name: string) => Promise<{ terminate: () => Promise<void> }> }
}

async function main (): Promise<void> {
  const addon = loadAddon()
  if (addon.zkSetupDev === undefined || addon.zkVerify === undefined) throw new Error('addon without zkSetupDev: rebuild it')
  const threads = Number(arg('threads', '2'))
  await mkdir(DIR, { recursive: true })
  for (const k of list(arg('sizes', '12,16'))) {
    const m = Math.floor((1 << k) * 0.94)
    const r1cs = path.join(DIR, `chain-2^${k}.r1cs`)
    await writeFile(r1cs, chainR1cs(m))
    const t0 = performance.now()
    const info = await addon.zkSetupDev(r1cs, path.join(DIR, `chain-2^${k}.zkey`), { threads })
    console.log(JSON.stringify({ bench: 'zkSetupDev', log2Domain: k, constraints: info.nConstraints, domainSize: info.domainSize, threads, ms: Math.round(info.ms), wallMs: Math.round(performance.now() - t0) }))
  }

  const iters = Number(arg('verify', '200'))
  if (iters > 0) {
    const name = 'snarkjs'
    const s = await import(name) as Snarkjs
    const src = 'pragma circom 2.0.0;\ntemplate C(N) { signal input x; signal input y; signal output out; signal t[N + 1]; t[0] <== x;\n' +
      '  for (var i = 0; i < N; i++) { t[i + 1] <== t[i] * t[i] + y; } out <== t[N]; }\ncomponent main { public [y] } = C(64);\n'
    await writeFile(path.join(DIR, 'v.circom'), src)
    const rel = path.relative(ROOT, DIR)
    await promisify(execFile)(process.execPath, [path.join(ROOT, 'node_modules', 'circom2', 'cli.js'), path.join(rel, 'v.circom'),
      '--r1cs', '--wasm', '--O2', '-o', rel, '-l', 'node_modules'], { cwd: ROOT })
    const zkey = path.join(DIR, 'v.zkey')
    await addon.zkSetupDev(path.join(DIR, 'v.r1cs'), zkey)
    const vk = await s.zKey.exportVerificationKey(zkey)
    const { proof, publicSignals } = await s.groth16.fullProve({ x: '3', y: '5' }, path.join(DIR, 'v_js', 'v.wasm'), zkey)
    const first = addon.zkVerify(vk, proof, publicSignals)
    const native: number[] = []
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now()
      if (!addon.zkVerify(vk, proof, publicSignals).valid) throw new Error('native verify failed')
      native.push(performance.now() - t0)
    }
    const js: number[] = []
    for (let i = 0; i < Math.min(20, iters); i++) {
      const t0 = performance.now()
      if (!await s.groth16.verify(vk, publicSignals, proof)) throw new Error('snarkjs verify failed')
      js.push(performance.now() - t0)
    }
    console.log(JSON.stringify({ bench: 'zkVerify', nPublic: vk.nPublic, firstCallMs: +first.ms.toFixed(3), medianMs: +median(native).toFixed(3), minMs: +Math.min(...native).toFixed(3), snarkjsMedianMs: +median(js).toFixed(2), iters }))
    await (await s.curves.getCurveFromName('bn128')).terminate()
  }
}

await main()
