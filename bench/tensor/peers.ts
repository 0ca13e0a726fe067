// Benchmark-only peers (onnxruntime-node, node-llama-cpp), installed on first use into
// bench/.peers/ (gitignored, its own package.json) and loaded with createRequire from
// there. They are never dependencies of the product and never part of `npm test`.
//
// A peer that cannot be installed or loaded is reported as unavailable with the reason;
// the suite then reports its metrics without a peer value instead of failing.

import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { LlamaCpp, Ort } from './peer-types.js'

/** Pinned versions. onnxruntime-node's own install script would download CUDA libraries
 *  (no network here): it is told to skip that (`onnxruntime-node-install=skip`); the CPU
 *  binary ships inside the npm package. node-llama-cpp's optional prebuilt packages are
 *  omitted, all but the linux-x64 CPU one, named explicitly. */
export const PEER_VERSIONS = {
  'onnxruntime-node': '1.30.0',
  'node-llama-cpp': '3.22.1',
  '@node-llama-cpp/linux-x64': '3.22.1'
} as const

/** Repository root: dist/bench/tensor/peers.js → three levels up. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
export const PEERS_DIR = join(REPO_ROOT, 'bench', '.peers')
export const MODELS_DIR = join(PEERS_DIR, 'models')

export interface PeerStatus<T> {
  name: string
  version?: string
  /** The loaded module, when available. */
  mod?: T
  /** Why it is unavailable. */
  reason?: string
}

function installedVersion (pkg: string): string | undefined {
  try {
    const json = JSON.parse(readFileSync(join(PEERS_DIR, 'node_modules', pkg, 'package.json'), 'utf8')) as { version?: string }
    return json.version
  } catch { return undefined }
}

function allInstalled (): boolean {
  return Object.entries(PEER_VERSIONS).every(([pkg, v]) => installedVersion(pkg) === v)
}

let installing: Promise<string | undefined> | undefined

/** Installs the pinned peers into bench/.peers unless already there. Resolves to an error message or undefined. */
export async function ensurePeersInstalled (log: (msg: string) => void): Promise<string | undefined> {
  installing ??= install(log)
  return await installing
}

async function install (log: (msg: string) => void): Promise<string | undefined> {
  if (allInstalled()) return undefined
  mkdirSync(PEERS_DIR, { recursive: true })
  const pkgJson = join(PEERS_DIR, 'package.json')
  if (!existsSync(pkgJson)) {
    writeFileSync(pkgJson, JSON.stringify({ name: 'verimesh-bench-peers', private: true, description: 'benchmark-only comparison engines for bench/tensor; not part of the product' }, null, 2) + '\n')
  }
  const specs = Object.entries(PEER_VERSIONS).map(([pkg, v]) => `${pkg}@${v}`)
  const args = ['install', '--prefix', PEERS_DIR, '--no-save', '--no-audit', '--no-fund', '--omit=optional', '--loglevel=http', ...specs]
  log(`installing benchmark peers into ${PEERS_DIR}: npm ${args.join(' ')} (first run only; ~370 MB)`)
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const started = Date.now()
  const result = await new Promise<{ code: number | null, tail: string }>((resolve) => {
    const child = spawn(npm, args, {
      cwd: PEERS_DIR,
      env: { ...process.env, npm_config_onnxruntime_node_install: 'skip', NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let tail = ''
    let fetched = 0
    let lastReport = Date.now()
    const onData = (buf: Buffer): void => {
      const text = buf.toString()
      tail = (tail + text).slice(-4000)
      for (const line of text.split('\n')) {
        if (/\bfetch GET 200\b/.test(line)) fetched++
        if (/^added |^up to date|ERR!/.test(line.trim())) log(`npm: ${line.trim()}`)
      }
      if (Date.now() - lastReport > 3000) { lastReport = Date.now(); log(`  … ${fetched} package files fetched, ${((Date.now() - started) / 1000).toFixed(0)} s`) }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    child.on('error', (err) => { resolve({ code: -1, tail: String(err) }) })
    child.on('close', (code) => { resolve({ code, tail }) })
  })
  if (result.code !== 0 || !allInstalled()) {
    const lastLines = result.tail.trim().split('\n').slice(-5).join(' / ')
    return `npm install of ${specs.join(', ')} failed (exit ${String(result.code)}): ${lastLines}`
  }
  log(`peers installed in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  return undefined
}

const peerRequire = (): NodeRequire => createRequire(join(PEERS_DIR, 'package.json'))

/** onnxruntime-node, or why not. */
export async function loadOrt (log: (msg: string) => void): Promise<PeerStatus<Ort>> {
  const name = 'onnxruntime-node'
  const err = await ensurePeersInstalled(log)
  if (err !== undefined && installedVersion(name) === undefined) return { name, reason: err }
  try {
    const mod = peerRequire()(name) as Ort
    return { name, version: installedVersion(name), mod }
  } catch (e) {
    return { name, version: installedVersion(name), reason: `cannot load: ${(e as Error).message}` }
  }
}

/** node-llama-cpp (ESM only: imported by file URL from bench/.peers), or why not. */
export async function loadLlama (log: (msg: string) => void): Promise<PeerStatus<LlamaCpp>> {
  const name = 'node-llama-cpp'
  const err = await ensurePeersInstalled(log)
  if (err !== undefined && installedVersion(name) === undefined) return { name, reason: err }
  try {
    const entry = peerRequire().resolve(name)
    const mod = await import(pathToFileURL(entry).href) as LlamaCpp
    return { name, version: installedVersion(name), mod }
  } catch (e) {
    return { name, version: installedVersion(name), reason: `cannot load: ${(e as Error).message}` }
  }
}
