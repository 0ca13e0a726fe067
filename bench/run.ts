// Benchmark runner. `npm run bench` runs every suite; `npm run bench -- <suite>...`
// runs the named ones; `--quick` does a short smoke run.
//
// A suite is a directory under bench/ whose index module exports `suite: Suite`
// (see suite.ts). Each run prints a table and writes bench/results/<suite>.json
// with the metrics and the machine they were measured on.
//
// Profiling: `node --cpu-prof dist/bench/run.js actors` profiles this process;
// VERIMESH_BENCH_PROF_DIR=<dir> also makes suites start their peer processes with
// --cpu-prof into <dir>.
import '../runtime/polyfills.js'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { machineInfo, table } from './format.js'
import type { Suite } from './suite.js'

const here = dirname(fileURLToPath(import.meta.url)) // dist/bench
const resultsDir = join(here, '..', '..', 'bench', 'results')

async function discover (): Promise<string[]> {
  const names: string[] = []
  for (const entry of await readdir(here)) {
    try {
      if ((await stat(join(here, entry, 'index.js'))).isFile()) names.push(entry)
    } catch { /* not a suite */ }
  }
  return names.sort()
}

async function load (name: string): Promise<Suite> {
  const mod = await import(pathToFileURL(join(here, name, 'index.js')).href) as { suite?: Suite, default?: Suite }
  const suite = mod.suite ?? mod.default
  if (suite === undefined || typeof suite.run !== 'function') throw new Error(`bench/${name}/index.ts does not export a suite`)
  return suite
}

async function main (): Promise<void> {
  const args = process.argv.slice(2)
  const quick = args.includes('--quick')
  const wanted = args.filter(a => !a.startsWith('--'))
  const available = await discover()
  const unknown = wanted.filter(w => !available.includes(w))
  if (unknown.length > 0) {
    process.stderr.write(`unknown suite(s): ${unknown.join(', ')}; available: ${available.join(', ')}\n`)
    process.exit(2)
  }
  const names = wanted.length > 0 ? wanted : available
  await mkdir(resultsDir, { recursive: true })
  let failed = false
  for (const name of names) {
    const suite = await load(name)
    const log = (msg: string): void => { process.stderr.write(`[${suite.name}] ${msg}\n`) }
    log(suite.description)
    const started = Date.now()
    try {
      const metrics = await suite.run({ log, quick })
      const seconds = (Date.now() - started) / 1000
      process.stdout.write(table(suite.name, metrics) + `\n(${seconds.toFixed(1)} s)\n\n`)
      const file = join(resultsDir, `${name}.json`)
      await writeFile(file, JSON.stringify({ suite: suite.name, description: suite.description, quick, seconds, machine: machineInfo(), metrics }, null, 2) + '\n')
      log(`wrote ${file}`)
    } catch (err) {
      failed = true
      process.stderr.write(`[${suite.name}] failed: ${(err as Error).stack ?? String(err)}\n`)
    }
  }
  process.exit(failed ? 1 : 0)
}

await main()
