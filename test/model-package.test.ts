import test from 'ava'
import { mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { isVerimeshError } from '../runtime/errors.js'
import { DIM_PRESETS, sliceShard, synthWeights } from '../actors/engine/int/synth.js'
import type { ModelDims, ShardWeights } from '../actors/engine/int/types.js'
import { canonicalDescriptor, merkleNode, merkleRoot, sha256, tensorLeaf } from '../actors/engine/model/merkle.js'
import { balancedRanges, loadShard, readManifest, reshard, verifyPackage, writePackage, type Manifest } from '../actors/engine/model/package.js'
import { shardTensors, type TensorData } from '../actors/engine/model/tensors.js'
import { bytesTokenizerSpec } from '../actors/engine/model/tokenizer.js'
import { synthPackage } from '../actors/engine/model/synth-package.js'

const DIMS: ModelDims = { ...DIM_PRESETS.tiny!, layers: 5, context: 32 }

async function tmp (): Promise<string> {
  return await mkdtemp(path.join(os.tmpdir(), 'verimesh-model-'))
}

function whole (bias = false): ShardWeights {
  return synthWeights({ dims: DIMS, seed: 7, bias })
}

async function write (dir: string, w: ShardWeights, ranges: Array<[number, number]>): Promise<Manifest> {
  return await writePackage(dir, {
    name: 'test',
    config: w.config,
    tokenizer: bytesTokenizerSpec(w.config.dims.vocab),
    synthetic: true,
    shards: ranges.map((r) => sliceShard(w, r))
  })
}

/** Every tensor of every shard of a package, by name, checked to be the same wherever repeated. */
async function allTensors (t: { deepEqual: (a: unknown, b: unknown) => void }, dir: string): Promise<Map<string, TensorData>> {
  const m = await readManifest(dir)
  const out = new Map<string, TensorData>()
  for (const s of m.shards) {
    for (const x of shardTensors(await loadShard(dir, s.index, { manifest: m }))) {
      const prev = out.get(x.name)
      if (prev !== undefined) t.deepEqual(prev, x.data)
      out.set(x.name, x.data)
    }
  }
  return out
}

test('write → load round trip gives back the in-memory shards', async (t) => {
  const dir = await tmp()
  try {
    for (const bias of [false, true]) {
      const w = whole(bias)
      const ranges: Array<[number, number]> = [[0, 2], [2, 3], [3, 5]]
      const sub = path.join(dir, String(bias))
      const m = await write(sub, w, ranges)
      t.is(m.shards.length, 3)
      t.true(m.synthetic)
      for (const [i, r] of ranges.entries()) {
        const loaded = await loadShard(sub, i)
        t.deepEqual(loaded, sliceShard(w, r))
        t.deepEqual(m.shards[i]!.layers, r)
      }
      // Tensor names and order are the documented ones.
      const names0 = m.shards[0]!.tensors.map((x) => x.name)
      t.deepEqual(names0.slice(0, 5), ['rope', 'token_embd.q', 'token_embd.s', 'blk.0.attn_norm', 'blk.0.attn_q.q'])
      t.is(names0.includes('blk.0.attn_q.b'), bias)
      t.deepEqual(m.shards[2]!.tensors.slice(-3).map((x) => x.name), ['output_norm', 'output.q', 'output.s'])
      for (const s of m.shards) for (const x of s.tensors) t.is(x.offset % 64, 0)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('roots are Merkle trees over the documented leaves and deterministic', async (t) => {
  const dir = await tmp()
  try {
    const w = whole()
    const a = await write(path.join(dir, 'a'), w, [[0, 2], [2, 5]])
    const b = await write(path.join(dir, 'b'), w, [[0, 2], [2, 5]])
    t.is(a.root, b.root)
    t.deepEqual(await readFile(path.join(dir, 'a', 'manifest.json')), await readFile(path.join(dir, 'b', 'manifest.json')))
    t.deepEqual(await readFile(path.join(dir, 'a', 'shard-1.vmw')), await readFile(path.join(dir, 'b', 'shard-1.vmw')))

    // Recompute shard 1's root from its data independently of the writer.
    const tensors = shardTensors(sliceShard(w, [2, 5]))
    const leaves = tensors.map((x) => {
      const data = Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)
      return sha256(Uint8Array.of(0), Buffer.from(JSON.stringify([x.name, x.dtype, x.shape])), sha256(data))
    })
    t.is(merkleRoot(leaves).toString('hex'), a.shards[1]!.root)
    t.deepEqual(leaves[0], tensorLeaf(tensors[0]!, sha256(Buffer.from(tensors[0]!.data.buffer))))
    t.is(canonicalDescriptor({ name: 'rope', dtype: 'i32', shape: [32, 8, 2] }).toString(), '["rope","i32",[32,8,2]]')
    // Odd node promoted, not duplicated.
    const [x, y, z] = [sha256(Buffer.from('x')), sha256(Buffer.from('y')), sha256(Buffer.from('z'))]
    t.deepEqual(merkleRoot([x, y, z]), merkleNode(merkleNode(x, y), z))
    t.notDeepEqual(merkleRoot([x, y, z]), merkleRoot([x, y, z, z]))
    t.deepEqual(merkleRoot([x]), x)

    // A different seed changes everything.
    const c = await write(path.join(dir, 'c'), synthWeights({ dims: DIMS, seed: 8 }), [[0, 2], [2, 5]])
    t.not(c.root, a.root)
    t.not(c.weightsRoot, a.weightsRoot)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

async function flipByte (file: string, at: number): Promise<void> {
  const fh = await open(file, 'r+')
  const b = Buffer.alloc(1)
  await fh.read(b, 0, 1, at)
  b[0] = b[0]! ^ 0x10
  await fh.write(b, 0, 1, at)
  await fh.close()
}

test('a flipped byte, a truncated file or a tampered manifest is refused, naming the tensor', async (t) => {
  const dir = await tmp()
  try {
    const w = whole(true)
    const m = await write(dir, w, [[0, 3], [3, 5]])
    const file = path.join(dir, 'shard-1.vmw')
    const victim = m.shards[1]!.tensors.find((x) => x.name === 'blk.4.ffn_up.q')!
    await flipByte(file, victim.offset + 17)
    const err = await t.throwsAsync(loadShard(dir, 1))
    t.true(isVerimeshError(err, 'MODEL_CORRUPT'))
    t.regex(err!.message, /shard-1\.vmw/)
    t.regex(err!.message, /blk\.4\.ffn_up\.q/)
    t.true(err!.message.includes(victim.hash))
    t.is((err as unknown as { context: Record<string, unknown> }).context.expected, victim.hash)
    // The other shard still loads; verify reports exactly the bad one.
    await t.notThrowsAsync(loadShard(dir, 0))
    const report = await verifyPackage(dir)
    t.is(report.problems.length, 1)
    t.regex(report.problems[0]!.message, /blk\.4\.ffn_up\.q/)
    await flipByte(file, victim.offset + 17)
    t.is((await verifyPackage(dir)).problems.length, 0)

    // A byte of the header.
    await flipByte(file, 20)
    await t.throwsAsync(loadShard(dir, 1), { message: /header does not match/ })
    await flipByte(file, 20)

    // Truncation names the first tensor cut off.
    const cut = m.shards[1]!.tensors.find((x) => x.name === 'output.q')!
    await truncate(file, cut.offset + 10)
    const terr = await t.throwsAsync(loadShard(dir, 1))
    t.true(isVerimeshError(terr, 'MODEL_CORRUPT'))
    t.regex(terr!.message, /truncated: tensor output\.q/)

    // The manifest: a tensor hash changed without recomputing the roots.
    const manifestFile = path.join(dir, 'manifest.json')
    const text = await readFile(manifestFile, 'utf8')
    const other = m.shards[0]!.tensors[3]!
    await writeFile(manifestFile, text.replace(other.hash, 'f'.repeat(64)))
    await t.throwsAsync(readManifest(dir), { message: /shard 0 root does not match/ })
    await writeFile(manifestFile, text)
    await t.throwsAsync(loadShard(dir, 0, { expectedRoot: '0'.repeat(64) }), { message: /not the expected/ })
    await t.notThrowsAsync(loadShard(dir, 0, { expectedRoot: m.root }))

    // The tokenizer file is covered too.
    await writeFile(path.join(dir, 'tokenizer.json'), '{"type":"bytes","vocab":300,"addBos":true}')
    const r = await verifyPackage(dir)
    t.true(r.problems.some((p) => /tokenizer\.json is corrupt/.test(p.message)))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('reshard 1 → 2 → 3 → 1 keeps every tensor, changes shard roots as the cut does, and comes back to the same root', async (t) => {
  const dir = await tmp()
  try {
    const w = whole(true)
    const one = await write(path.join(dir, '1'), w, [[0, 5]])
    const two = await reshard(path.join(dir, '1'), 2, path.join(dir, '2'))
    const three = await reshard(path.join(dir, '2'), [[0, 1], [1, 4], [4, 5]], path.join(dir, '3'))
    const back = await reshard(path.join(dir, '3'), 1, path.join(dir, '1b'))
    t.is(two.shards.length, 2)
    t.deepEqual(three.shards.map((s) => s.layers), [[0, 1], [1, 4], [4, 5]])

    const reference = await allTensors(t, path.join(dir, '1'))
    for (const d of ['2', '3', '1b']) t.deepEqual(await allTensors(t, path.join(dir, d)), reference)

    // The weights root ignores the cut; shard roots and the model root follow it.
    for (const m of [two, three, back]) t.is(m.weightsRoot, one.weightsRoot)
    t.not(two.root, one.root)
    t.not(three.root, two.root)
    t.is(back.root, one.root)
    t.deepEqual(await readFile(path.join(dir, '1b', 'manifest.json')), await readFile(path.join(dir, '1', 'manifest.json')))
    // Each new shard root is what writing those layers directly gives.
    const direct = await write(path.join(dir, 'direct'), w, [[0, 1], [1, 4], [4, 5]])
    t.deepEqual(three.shards.map((s) => s.root), direct.shards.map((s) => s.root))
    t.is(three.root, direct.root)
    t.is((await verifyPackage(path.join(dir, '3'))).problems.length, 0)

    // A corrupt source cannot be laundered into a fresh package.
    const victim = two.shards[1]!.tensors[4]!
    await flipByte(path.join(dir, '2', 'shard-1.vmw'), victim.offset)
    await t.throwsAsync(reshard(path.join(dir, '2'), 3, path.join(dir, 'bad')), { message: new RegExp(victim.name.replaceAll('.', '\\.')) })
    await t.throwsAsync(readManifest(path.join(dir, 'bad')))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('balanced ranges: equal layers split larger-first; bytes move layers off heavy ends', (t) => {
  t.deepEqual(balancedRanges(8, 3), [[0, 3], [3, 6], [6, 8]])
  t.deepEqual(balancedRanges(4, 4), [[0, 1], [1, 2], [2, 3], [3, 4]])
  t.deepEqual(balancedRanges(6, 1), [[0, 6]])
  t.deepEqual(balancedRanges(6, 2, { layer: () => 10, first: 0, last: 20 }), [[0, 4], [4, 6]])
  t.deepEqual(balancedRanges(6, 3, { layer: () => 10, first: 10, last: 10 }), [[0, 2], [2, 4], [4, 6]])
  t.throws(() => balancedRanges(3, 4), { message: /cannot cut 3 layers into 4/ })
  t.throws(() => balancedRanges(3, 0))
})

test('writePackage refuses inconsistent input and non-empty directories', async (t) => {
  const dir = await tmp()
  try {
    const w = whole()
    await t.throwsAsync(write(path.join(dir, 'gap'), w, [[0, 2], [3, 5]]), { message: /contiguous/ })
    await t.throwsAsync(write(path.join(dir, 'short'), w, [[0, 2], [2, 4]]), { message: /cover layers \[0, 4\)/ })
    await write(path.join(dir, 'ok'), w, [[0, 5]])
    await t.throwsAsync(write(path.join(dir, 'ok'), w, [[0, 5]]), { message: /not empty/ })
    await t.throwsAsync(loadShard(path.join(dir, 'ok'), 1), { message: /no shard 1/ })
    await t.throwsAsync(readManifest(path.join(dir, 'nothing')), { message: /cannot read/ })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('synthPackage names the model synthetic and records how to reproduce it', async (t) => {
  const dir = await tmp()
  try {
    const m = await synthPackage(path.join(dir, 'a'), { dims: DIMS, seed: 3, parts: 2, preset: 'tiny-5' })
    t.true(m.synthetic)
    t.deepEqual(m.source, { kind: 'synthetic', seed: 3, preset: 'tiny-5', ropeStyle: 'adjacent', bias: false })
    t.is(m.tokenizer.type, 'bytes')
    const again = await synthPackage(path.join(dir, 'b'), { dims: DIMS, seed: 3, parts: 2, preset: 'tiny-5' })
    t.is(again.root, m.root)
    await t.throwsAsync(synthPackage(path.join(dir, 'c'), { dims: { ...DIMS, vocab: 100 }, seed: 3 }), { message: /at least 259/ })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
