import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../../bin/verimesh.js', import.meta.url))

function run (args: string[], timeoutMs = 90_000): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Processes whose command line mentions `needle` (our devnet's config dir). */
async function processesMentioning (needle: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const cmd = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).replaceAll('\0', ' ')
      if (cmd.includes(needle)) pids.push(Number(entry))
    } catch { /* exited meanwhile */ }
  }
  return pids
}

test('help and usage errors', async (t) => {
  const help = await run(['--help'])
  t.is(help.code, 0)
  for (const cmd of ['node start', 'devnet', 'demo', 'info']) t.true(help.stdout.includes(cmd))
  const demoHelp = await run(['demo', '--help'])
  t.is(demoHelp.code, 0)
  t.regex(demoHelp.stdout, /--once/)
  t.is((await run(['frobnicate'])).code, 2)
  const noConfig = await run(['node', 'start'])
  t.is(noConfig.code, 2)
  t.regex(noConfig.stderr, /--config is required/)
})

test('a bad config file is refused with the offending field named', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-cli-'))
  try {
    const file = path.join(dir, 'bad.json')
    await writeFile(file, JSON.stringify({ name: 'x', operatorKey: '0x12', model: {}, roles: {} }))
    const r = await run(['node', 'start', '--config', file])
    t.is(r.code, 2)
    t.regex(r.stderr, /operatorKey/)
    await writeFile(file, '{ not json')
    t.regex((await run(['node', 'start', '--config', file])).stderr, /not valid JSON/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('info reports the addon capabilities', async (t) => {
  const r = await run(['info'])
  t.is(r.code, 0, r.stderr)
  const caps = JSON.parse(r.stdout) as { cpu: { logicalCores: number }, gpu: { present: boolean, reason: string } }
  t.true(caps.cpu.logicalCores >= 1)
  t.is(typeof caps.gpu.present, 'boolean')
})

test.serial('demo --once serves one request end to end and leaves no process behind', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-demo-'))
  try {
    const r = await run(['demo', '--once', '--dir', dir, '--max-tokens', '8'])
    t.is(r.code, 0, r.stderr)
    t.regex(r.stdout, /route +shard 0 → node-\d, shard 1 → node-\d/)
    t.regex(r.stdout, /quorum +node-\d signed, node-\d signed/)
    t.regex(r.stdout, /settlement +batch \d+ \(receipt 1 of 1\), co-signed by the epoch \d+ quorum \(BLS\), tx 0x[0-9a-f]{64}/)
    t.deepEqual(await processesMentioning(dir), [])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test.serial('demo --once that fails reports the error and still stops every process', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-demo-'))
  try {
    const r = await run(['demo', '--once', '--dir', dir, '--prompt', ''])
    t.is(r.code, 1)
    t.regex(r.stderr, /REQUEST_INVALID: prompt is empty/)
    t.regex(r.stdout, /Stopped\./)
    t.deepEqual(await processesMentioning(dir), [])
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
