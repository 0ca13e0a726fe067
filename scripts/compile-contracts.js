#!/usr/bin/env node
// Compiles every contracts/*.sol with the solc-js package (WebAssembly, bundled
// with the npm package: no compiler download, no network) and writes one
// artifact per contract to dist/contracts/<Name>.json with its ABI and bytecode,
// then typed ethers bindings for each into runtime/chain/types/ (gen-bindings.js).
// Runs BEFORE tsc in `npm run build`, because tsc compiles those bindings; so it
// must not import anything from dist/. Exits non-zero with the compiler's own
// formatted messages when any source fails to compile.
//
// Usage: node scripts/compile-contracts.js [--src contracts] [--out dist/contracts]
//          [--types-out runtime/chain/types] [--no-bindings]

import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

import { writeBindings } from './gen-bindings.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const require = createRequire(import.meta.url)

// Pinned so artifacts do not change when solc's default target moves on.
// Cancun is what the embedded chain (runtime/chain) runs and what every
// current L1/L2 supports.
const EVM_VERSION = 'cancun'
const OPTIMIZER_RUNS = 200

function arg (name, fallback) {
  const i = process.argv.indexOf(name)
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback
}

const srcDir = resolve(root, arg('--src', 'contracts'))
const outDir = resolve(root, arg('--out', join('dist', 'contracts')))
const typesDir = resolve(root, arg('--types-out', join('runtime', 'chain', 'types')))
const bindings = !process.argv.includes('--no-bindings')

function fail (message) {
  process.stderr.write(`compile-contracts: ${message}\n`)
  process.exit(1)
}

if (!existsSync(srcDir)) fail(`no contracts directory at ${srcDir}`)
const files = readdirSync(srcDir).filter((f) => f.endsWith('.sol')).sort()
if (files.length === 0) {
  process.stdout.write(`compile-contracts: no .sol files in ${relative(root, srcDir)}, nothing to do\n`)
  process.exit(0)
}

let solc
try {
  solc = require('solc')
} catch (err) {
  fail(`cannot load solc-js (npm install solc): ${err instanceof Error ? err.message : String(err)}`)
}

const sources = {}
for (const f of files) sources[f] = { content: readFileSync(join(srcDir, f), 'utf8') }

// Imports resolve against contracts/ first, then node_modules (for example
// "@openzeppelin/contracts/..."), so library code needs no remapping.
function findImports (path) {
  for (const base of [srcDir, join(root, 'node_modules')]) {
    const candidate = join(base, path)
    if (existsSync(candidate)) return { contents: readFileSync(candidate, 'utf8') }
  }
  return { error: `file not found: ${path} (looked in contracts/ and node_modules/)` }
}

const input = {
  language: 'Solidity',
  sources,
  settings: {
    evmVersion: EVM_VERSION,
    optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
    outputSelection: {
      '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'devdoc', 'userdoc'] }
    }
  }
}

const started = Date.now()
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
const diagnostics = output.errors ?? []
const errors = diagnostics.filter((d) => d.severity === 'error')
// Warnings inside dependencies (OpenZeppelin) are not ours to fix and would
// bury our own; errors are always shown.
const ownWarning = (d) => !(d.sourceLocation?.file ?? '').startsWith('@')
for (const w of diagnostics.filter((d) => d.severity !== 'error' && ownWarning(d))) {
  process.stderr.write(w.formattedMessage ?? `${w.type}: ${w.message}\n`)
}
if (errors.length > 0) {
  for (const e of errors) process.stderr.write(e.formattedMessage ?? `${e.type}: ${e.message}\n`)
  fail(`${errors.length} error(s) compiling ${files.join(', ')} with solc ${solc.version()}`)
}

mkdirSync(outDir, { recursive: true })
const written = new Map()
const artifacts = []
for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
  // Only our own sources produce artifacts; imported libraries are inlined.
  if (!files.includes(sourceName)) continue
  for (const [contractName, c] of Object.entries(contracts)) {
    if (written.has(contractName)) {
      fail(`contract name ${contractName} is defined in both ${written.get(contractName)} and ${sourceName}`)
    }
    written.set(contractName, sourceName)
    const artifact = {
      contractName,
      sourceName: `contracts/${sourceName}`,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      devdoc: c.devdoc,
      userdoc: c.userdoc,
      compiler: { name: 'solc', version: solc.version(), evmVersion: EVM_VERSION, optimizerRuns: OPTIMIZER_RUNS }
    }
    writeFileSync(join(outDir, `${contractName}.json`), JSON.stringify(artifact, null, 2) + '\n')
    artifacts.push(artifact)
  }
}

if (bindings) {
  try {
    // A partial compile (--src elsewhere) must not delete the other contracts' bindings.
    writeBindings(artifacts, typesDir, { prune: srcDir === resolve(root, 'contracts') })
  } catch (err) {
    fail(`cannot generate bindings into ${relative(root, typesDir)}: ${err instanceof Error ? err.message : String(err)}`)
  }
}

process.stdout.write(`compile-contracts: ${written.size} artifact(s) from ${files.length} source(s) ` +
  `-> ${relative(root, outDir)}${bindings ? ` and bindings -> ${relative(root, typesDir)}` : ''} in ${Date.now() - started} ms (solc ${solc.version()})\n`)
