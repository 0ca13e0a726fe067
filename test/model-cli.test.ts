import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../runtime/cli/model.js', import.meta.url))
const RUNNER = `import(${JSON.stringify(CLI)}).then(async (m) => { process.exitCode = await m.runModelCommand(process.argv.slice(1)) })`

function model (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', RUNNER, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Runs the command in this process, capturing what it writes. */
async function inProcess (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const { runModelCommand } = await import('../runtime/cli/model.js')
  const out: string[] = []
  const err: string[] = []
  const writeOut = process.stdout.write.bind(process.stdout)
  const writeErr = process.stderr.write.bind(process.stderr)
  process.stdout.write = ((chunk: string | Uint8Array) => { out.push(String(chunk)); return true }) as typeof process.stdout.write
  process.stderr.write = ((chunk: string | Uint8Array) => { err.push(String(chunk)); return true }) as typeof process.stderr.write
  try {
    const code = await runModelCommand(args)
    return { code, stdout: out.join(''), stderr: err.join('') }
  } finally {
    process.stdout.write = writeOut
    process.stderr.write = writeErr
  }
}

test('verimesh model: synth → info --verify → shard → export-gguf → import, with usage errors and failures', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-model-cli-'))
  try {
    const a = path.join(dir, 'a')
    const synth = await model(['synth', '--out', a, '--dims', 'tiny', '--seed', '5', '--parts', '2'])
    t.is(synth.code, 0, synth.stderr)
    t.regex(synth.stdout, /\[synthetic\]/)
    t.regex(synth.stdout, /shard 1: {2}layers \[2, 4\)/)
    const manifest = JSON.parse(await readFile(path.join(a, 'manifest.json'), 'utf8')) as { root: string, synthetic: boolean }
    t.true(manifest.synthetic)

    const info = await model(['info', a, '--verify'])
    t.is(info.code, 0, info.stderr)
    t.true(info.stdout.includes(manifest.root))
    t.regex(info.stdout, /vocab 259, dim 64, layers 4/)
    t.regex(info.stdout, /verified: .*OK/)
    const json = JSON.parse((await model(['info', a, '--json'])).stdout) as { root: string, shards: Array<{ tensors: number }> }
    t.is(json.root, manifest.root)
    t.is(typeof json.shards[0]!.tensors, 'number')

    const b = path.join(dir, 'b')
    const shard = await model(['shard', a, '--parts', '4', '--out', b])
    t.is(shard.code, 0, shard.stderr)
    t.regex(shard.stdout, /resharded into 4 shards/)
    t.is((await model(['shard', a, '--ranges', '0-1,1-4', '--out', path.join(dir, 'r')])).code, 0)

    const gguf = path.join(dir, 'm.gguf')
    const exp = await model(['export-gguf', b, '--out', gguf])
    t.is(exp.code, 0, exp.stderr)
    t.regex(exp.stdout, /llama architecture, q8_0/)
    const imp = await model(['import', gguf, '--out', path.join(dir, 'c'), '--parts', '2', '--context', '128'])
    t.is(imp.code, 0, imp.stderr)
    t.regex(imp.stdout, /context 128/)
    t.regex(imp.stderr, /tensor \d+\/\d+/) // progress on stderr

    const custom = await model(['synth', '--out', path.join(dir, 'd'), '--dim', '64', '--layers', '2', '--heads', '2', '--ffn', '96', '--vocab', '300', '--context', '8', '--rope', 'halves', '--bias'])
    t.is(custom.code, 0, custom.stderr)
    t.regex(custom.stdout, /heads 2 \(kv 2, head 32\), ffn 96, context 8/)

    // Usage errors: exit 2 with the command's help (in-process: no need for a process each).
    for (const args of [[], ['frobnicate'], ['synth'], ['synth', '--out', 'x', '--dims', 'huge'], ['synth', '--out', 'x', '--seed', '-1'], ['import', '--out', 'x'], ['shard', a, '--out', 'x'], ['info'], ['export-gguf', a, '--out', 'x', '--type', 'q4_k'], ['synth', '--out', 'x', '--bogus']]) {
      const r = await inProcess(args)
      t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    }
    t.regex((await inProcess(['synth', '--out', 'x', '--dims', 'huge'])).stderr, /--dims must be one of tiny, small/)
    for (const cmd of ['synth', 'import', 'info', 'shard', 'export-gguf']) {
      const h = await inProcess([cmd, '--help'])
      t.is(h.code, 0)
      t.regex(h.stdout, new RegExp(`verimesh model ${cmd}`))
      t.is((await inProcess(['help', cmd])).stdout, h.stdout)
    }
    t.is((await inProcess(['--help'])).code, 0)

    // Failures: exit 1 with the reason.
    const missing = await inProcess(['info', path.join(dir, 'nope')])
    t.is(missing.code, 1)
    t.regex(missing.stderr, /MODEL_INVALID: cannot read/)
    t.is((await inProcess(['synth', '--out', a])).code, 1) // not empty
    const fh = await open(path.join(b, 'shard-2.vmw'), 'r+')
    const last = (await fh.stat()).size - 1
    const byte = Buffer.alloc(1)
    await fh.read(byte, 0, 1, last)
    byte[0] = byte[0]! ^ 1
    await fh.write(byte, 0, 1, last)
    await fh.close()
    const bad = await model(['info', b, '--verify'])
    t.is(bad.code, 1)
    t.regex(bad.stderr, /shard-2\.vmw: tensor \S+ is corrupt/)
    t.regex(bad.stderr, /FAILED verification/)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
