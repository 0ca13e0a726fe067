// `npm run circuits:build`: compile every circuit with circom2 and make its Groth16 keys
// with the INSECURE development setup (circuits/setup.ts), cached by a manifest per
// circuit so that a second run with nothing changed returns at once.
//
// Outputs, per circuit, in circuits/build/<name>/ (gitignored): <name>.r1cs, <name>.sym,
// <name>_js/<name>.wasm (the witness calculator), <name>.zkey, <name>.vkey.json,
// <name>Verifier.sol and manifest.json.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { VerimeshError } from '../runtime/errors.js'
import { readR1csInfo, type R1csInfo } from './r1cs-info.js'
import { CIRCUITS, circuitPaths, repoRoot, type CircuitSpec } from './registry.js'
import { DEFAULT_SEED, domainPower, INSECURE_LABEL, snarkjsSetup, type SetupBackendName, type SetupDev } from './setup.js'

const CIRCOM_FLAGS = ['--r1cs', '--wasm', '--sym', '--O2']
const MANIFEST_VERSION = 1

export interface BuildOptions {
  /** Circuit names; all when absent. */
  readonly only?: readonly string[]
  readonly force?: boolean
  /** 'auto' (default): the addon's native setup when it has one, else snarkjs. */
  readonly setup?: SetupBackendName | 'auto'
  /** Compile only (r1cs, wasm, sym): enough for witness tests. */
  readonly compileOnly?: boolean
  readonly seed?: string
  readonly root?: string
  readonly log?: (line: string) => void
}

export interface CircuitBuildReport {
  readonly name: string
  readonly compiled: boolean
  readonly setupDone: boolean
  /** Why the keys were not made (compile-only, or the setup cannot handle the size). */
  readonly setupSkipped?: string
  readonly info: R1csInfo
  readonly setupBackend?: SetupBackendName
  readonly compileMs?: number
  readonly setupMs?: number
}

export interface Manifest {
  readonly version: number
  readonly name: string
  readonly compileKey: string
  readonly compiler: string
  readonly info: R1csInfo
  readonly compileMs: number
  readonly setup?: { readonly key: string, readonly backend: SetupBackendName, readonly seed: string, readonly ms: number, readonly domainPower: number, readonly notice: string }
}

function compilerVersion (root: string): string {
  const require = createRequire(path.join(root, 'package.json'))
  const pkg = JSON.parse(readFileSync(require.resolve('circom2/package.json'), 'utf8')) as { version: string }
  return `circom2@${pkg.version} ${CIRCOM_FLAGS.join(' ')}`
}

/** Every file `source` includes, transitively, resolved as circom does (its directory, then node_modules). */
function sourceFiles (root: string, source: string): string[] {
  const seen = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(path.join(root, file), 'utf8')
    for (const m of text.matchAll(/^\s*include\s+"([^"]+)"\s*;/gm)) {
      const inc = m[1]!
      const local = path.normalize(path.join(path.dirname(file), inc))
      const lib = path.normalize(path.join('node_modules', inc))
      if (existsSync(path.join(root, local))) visit(local)
      else if (existsSync(path.join(root, lib))) visit(lib)
      else throw new VerimeshError('CONFIG_INVALID', `${file} includes "${inc}", which is neither next to it nor under node_modules`, { file, include: inc })
    }
  }
  visit(source)
  return [...seen].sort()
}

/** SHA-256 over the compiler version and every source file (path and bytes). */
export function compileKey (root: string, spec: CircuitSpec): string {
  const h = createHash('sha256').update(compilerVersion(root)).update('\0')
  for (const f of sourceFiles(root, spec.source)) h.update(f).update('\0').update(readFileSync(path.join(root, f))).update('\0')
  return h.digest('hex')
}

async function readManifest (file: string): Promise<Manifest | undefined> {
  try {
    const m = JSON.parse(await readFile(file, 'utf8')) as Manifest
    return m.version === MANIFEST_VERSION ? m : undefined
  } catch {
    return undefined
  }
}

async function compile (root: string, spec: CircuitSpec, log: (l: string) => void): Promise<void> {
  const out = circuitPaths(spec.name)
  await mkdir(path.join(root, out.dir), { recursive: true })
  const cli = createRequire(path.join(root, 'package.json')).resolve('circom2/cli.js')
  const args = [cli, spec.source, ...CIRCOM_FLAGS, '-o', out.dir, '-l', 'node_modules']
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let text = ''
    child.stdout.on('data', (d: Buffer) => { text += d.toString() })
    child.stderr.on('data', (d: Buffer) => { text += d.toString() })
    child.on('error', reject)
    child.on('close', (code) => resolve(`${text}\n(exit ${code})`))
  })
  // circom2 colours its output and may exit 0 after errors: success is its last line.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '')
  if (!plain.includes('Everything went okay')) {
    throw new VerimeshError('CONFIG_INVALID', `circom2 failed on ${spec.source}:\n${plain.trim().split('\n').slice(-25).join('\n')}`, { circuit: spec.name })
  }
  for (const line of plain.split('\n')) if (/constraints|wires/.test(line)) log(`    ${line.trim()}`)
}

async function nativeSetup (seed: string): Promise<SetupDev | string> {
  let addonMod: typeof import('../runtime/addon.js')
  try {
    addonMod = await import('../runtime/addon.js')
    const addon = addonMod.loadAddon()
    const fn = addon.zkSetupDev
    if (typeof fn !== 'function') return 'the loaded addon has no zkSetupDev (rebuild it with `npx node-gyp rebuild`)'
    return {
      name: 'native',
      async setup (r1cs, zkey, nConstraints, nPublic) {
        const r = await fn(r1cs, zkey, { seed })
        return { backend: 'native', ms: r.ms, insecure: true, domainPower: domainPower(nConstraints, nPublic) }
      }
    }
  } catch (err) {
    return (err as Error).message
  }
}

async function exportKeys (zkey: string, vkeyFile: string, verifierFile: string, backend: SetupBackendName, seed: string): Promise<void> {
  const { loadSnarkjs } = await import('./snarkjs.js')
  const snarkjs = await loadSnarkjs()
  const vkey = await snarkjs.zKey.exportVerificationKey(zkey)
  await writeFile(vkeyFile, JSON.stringify({ ...vkey, verimeshSetup: { insecure: true, backend, seed, notice: INSECURE_LABEL } }, null, 1))
  // snarkjs's exports map hides package.json: walk up from its entry point to the package.
  let pkgDir = path.dirname(createRequire(import.meta.url).resolve('snarkjs'))
  while (!existsSync(path.join(pkgDir, 'templates')) && path.dirname(pkgDir) !== pkgDir) pkgDir = path.dirname(pkgDir)
  const templatesDir = path.join(pkgDir, 'templates')
  const templates = { groth16: await readFile(path.join(templatesDir, 'verifier_groth16.sol.ejs'), 'utf8') }
  const sol = await snarkjs.zKey.exportSolidityVerifier(zkey, templates)
  await writeFile(verifierFile, `// ${INSECURE_LABEL}\n// Setup: ${backend}, seed '${seed}'. Regenerate with \`npm run circuits:build\`.\n${sol}`)
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** One build at a time per tree (test files run in parallel processes); a dead holder's lock is taken over. */
async function withLock<T> (root: string, log: (l: string) => void, fn: () => Promise<T>): Promise<T> {
  const dir = path.join(root, 'circuits', 'build')
  await mkdir(dir, { recursive: true })
  const file = path.join(dir, '.lock')
  let waited = false
  for (;;) {
    try {
      const fh = await open(file, 'wx')
      await fh.writeFile(String(process.pid))
      await fh.close()
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number(await readFile(file, 'utf8').catch(() => ''))
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        if (!waited) log(`waiting for the circuits build of process ${pid}`)
        waited = true
        await new Promise((resolve) => setTimeout(resolve, 500))
      } else {
        await rm(file, { force: true })
      }
    }
  }
  try {
    return await fn()
  } finally {
    await rm(file, { force: true })
  }
}

/** Compile and set up the selected circuits; up-to-date ones are left alone. */
export async function buildCircuits (opts: BuildOptions = {}): Promise<CircuitBuildReport[]> {
  const root = opts.root ?? repoRoot()
  const log = opts.log ?? (() => {})
  return await withLock(root, log, async () => await buildLocked(root, log, opts))
}

async function buildLocked (root: string, log: (l: string) => void, opts: BuildOptions): Promise<CircuitBuildReport[]> {
  const seed = opts.seed ?? DEFAULT_SEED
  const names = opts.only ?? CIRCUITS.map((c) => c.name)
  const specs = names.map((n) => {
    const s = CIRCUITS.find((c) => c.name === n)
    if (s === undefined) throw new VerimeshError('CONFIG_INVALID', `no circuit named '${n}' (known: ${CIRCUITS.map((c) => c.name).join(', ')})`, { circuit: n })
    return s
  })
  let setupImpl: SetupDev | undefined
  const getSetup = async (): Promise<SetupDev> => {
    if (setupImpl !== undefined) return setupImpl
    const want = opts.setup ?? 'auto'
    if (want !== 'snarkjs') {
      const native = await nativeSetup(seed)
      if (typeof native !== 'string') return (setupImpl = native)
      if (want === 'native') throw new VerimeshError('ADDON_UNAVAILABLE', `native development setup unavailable: ${native}`)
      log(`  native setup unavailable (${native}); using snarkjs`)
    }
    return (setupImpl = snarkjsSetup({ cacheDir: path.join(root, 'circuits', 'build', 'ptau'), seed, log }))
  }
  const reports: CircuitBuildReport[] = []
  for (const spec of specs) {
    const p = circuitPaths(spec.name, root)
    const key = compileKey(root, spec)
    let manifest = opts.force === true ? undefined : await readManifest(p.manifest)
    let compiled = false
    let compileMs: number | undefined
    if (manifest?.compileKey !== key || !existsSync(p.r1cs) || !existsSync(p.wasm)) {
      log(`${spec.name}: compiling ${spec.source} (circom2 --O2)`)
      const t0 = performance.now()
      await compile(root, spec, log)
      compileMs = performance.now() - t0
      const info = await readR1csInfo(p.r1cs)
      manifest = { version: MANIFEST_VERSION, name: spec.name, compileKey: key, compiler: compilerVersion(root), info, compileMs }
      await writeFile(p.manifest, JSON.stringify(manifest, null, 1))
      compiled = true
      log(`${spec.name}: compiled in ${(compileMs / 1000).toFixed(1)} s (${info.nConstraints} constraints)`)
    }
    const info = manifest.info
    if (opts.compileOnly === true) {
      reports.push({ name: spec.name, compiled, setupDone: false, setupSkipped: 'compile only', info, ...(compileMs === undefined ? {} : { compileMs }) })
      continue
    }
    const haveKeys = existsSync(p.zkey) && existsSync(p.vkey) && existsSync(p.verifier)
    const prior = manifest.setup
    const wantBackend = opts.setup ?? 'auto'
    const priorOk = prior !== undefined && haveKeys && prior.key === key && prior.seed === seed && (wantBackend === 'auto' || wantBackend === prior.backend)
    if (priorOk) {
      reports.push({ name: spec.name, compiled, setupDone: false, info, setupBackend: prior.backend, ...(compileMs === undefined ? {} : { compileMs }) })
      continue
    }
    const setup = await getSetup()
    const nPublic = info.nPubOut + info.nPubIn
    const power = domainPower(info.nConstraints, nPublic)
    log(`${spec.name}: ${setup.name} development setup, domain 2^${power} (${INSECURE_LABEL})`)
    const t0 = performance.now()
    try {
      await setup.setup(p.r1cs, p.zkey, info.nConstraints, nPublic)
    } catch (err) {
      if (setup.name === 'snarkjs' && err instanceof VerimeshError && err.code === 'CONFIG_INVALID') {
        log(`${spec.name}: keys NOT made: ${err.message}`)
        reports.push({ name: spec.name, compiled, setupDone: false, setupSkipped: err.message, info, ...(compileMs === undefined ? {} : { compileMs }) })
        continue
      }
      throw err
    }
    await exportKeys(p.zkey, p.vkey, p.verifier, setup.name, seed)
    const setupMs = performance.now() - t0
    manifest = { ...manifest, setup: { key, backend: setup.name, seed, ms: setupMs, domainPower: power, notice: INSECURE_LABEL } }
    await writeFile(p.manifest, JSON.stringify(manifest, null, 1))
    log(`${spec.name}: keys in ${(setupMs / 1000).toFixed(1)} s → ${path.relative(root, p.zkey)}, ${path.basename(p.vkey)}, ${path.basename(p.verifier)}`)
    reports.push({ name: spec.name, compiled, setupDone: true, info, setupBackend: setup.name, setupMs, ...(compileMs === undefined ? {} : { compileMs }) })
  }
  return reports
}

const HELP = `usage: npm run circuits:build -- [--only <name>[,<name>…]] [--force] [--setup auto|native|snarkjs] [--compile-only] [--seed <s>]

Compiles circuits/*.circom with circom2 and makes Groth16 keys with an INSECURE development
setup (its secrets come from a public seed: for tests and devnets only) into circuits/build/.
Cached: a circuit whose sources, compiler and setup seed are unchanged is not rebuilt.
Circuits: ${CIRCUITS.map((c) => c.name).join(', ')}`

export function parseArgs (argv: readonly string[]): BuildOptions | 'help' {
  const only: string[] = []
  let force = false
  let compileOnly = false
  let setup: SetupBackendName | 'auto' = 'auto'
  let seed: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new VerimeshError('CONFIG_INVALID', `${a} needs a value`)
      return v
    }
    if (a === '--help' || a === '-h') return 'help'
    else if (a === '--force') force = true
    else if (a === '--compile-only') compileOnly = true
    else if (a === '--only') only.push(...value().split(',').filter((s) => s !== ''))
    else if (a === '--seed') seed = value()
    else if (a === '--setup') {
      const v = value()
      if (v !== 'auto' && v !== 'native' && v !== 'snarkjs') throw new VerimeshError('CONFIG_INVALID', `--setup must be auto, native or snarkjs, got '${v}'`)
      setup = v
    } else throw new VerimeshError('CONFIG_INVALID', `unknown argument '${a}'\n${HELP}`)
  }
  return { force, compileOnly, setup, ...(only.length > 0 ? { only } : {}), ...(seed === undefined ? {} : { seed }) }
}

async function main (): Promise<void> {
  const t0 = performance.now()
  let opts: BuildOptions | 'help'
  try {
    opts = parseArgs(process.argv.slice(2))
  } catch (err) {
    console.error((err as Error).message)
    process.exit(2)
  }
  if (opts === 'help') { console.log(HELP); return }
  const reports = await buildCircuits({ ...opts, log: (l) => console.log(l) })
  const secs = ((performance.now() - t0) / 1000).toFixed(2)
  const busy = reports.filter((r) => r.compiled || r.setupDone)
  if (busy.length === 0) {
    console.log(`circuits: ${reports.length} up to date (${reports.map((r) => `${r.name} ${r.info.nConstraints}`).join(', ')} constraints) in ${secs} s`)
  } else {
    console.log(`circuits: built ${busy.map((r) => r.name).join(', ')} in ${secs} s`)
  }
  for (const r of reports) if (r.setupSkipped !== undefined && r.setupSkipped !== 'compile only') console.log(`  ${r.name}: no keys (${r.setupSkipped})`)
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // exit explicitly: snarkjs keeps its curve's worker threads alive after exporting keys
  main().then(() => process.exit(process.exitCode ?? 0), (err: unknown) => {
    console.error(err instanceof VerimeshError ? `${err.code}: ${err.message}` : err)
    process.exit(1)
  })
}
