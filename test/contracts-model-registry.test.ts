// ModelRegistry: registration, versions, deprecation, ownership, the lookups
// executors and clients use (verifyShard, isRegisteredRoot, tileRootOf,
// licenseOf), and every revert path by its custom error.
import test from 'ava'
import { id, keccak256, toUtf8Bytes, type Contract } from 'ethers'

import { deployProtocol } from '../runtime/chain/deploy.js'
import { E18, at, events, mined, reverts, startTestChain, type TestChain } from './contracts-helpers.js'

const ZERO32 = '0x' + '00'.repeat(32)
const ZERO = '0x0000000000000000000000000000000000000000'

let tc: TestChain
let reg: Contract
let modelId: string

const root = (label: string): string => id(`model root ${label}`)
const shards = (label: string, n: number): string[] => Array.from({ length: n }, (_, i) => id(`shard ${label} ${i}`))
const tile = (label: string): string => id(`tile root ${label}`)
const as = (i: number): Contract => reg.connect(tc.wallet(i)) as Contract

test.before(async () => {
  tc = await startTestChain(4)
  const addrs = await deployProtocol(tc.wallet(0), { governance: 'deployer' })
  reg = at('ModelRegistry', addrs.modelRegistry, tc.wallet(0))
})

test.after.always(async () => { await tc?.stop() })

test.serial('registerModel: the caller owns version 1, and every lookup sees it', async (t) => {
  const name = 'llama-3.2-1b-q8'
  modelId = await reg.modelIdOf(name) as string
  t.is(modelId, keccak256(toUtf8Bytes(name)))
  const s = shards('v1', 4)
  const r = await mined(as(1).getFunction('registerModel')(name, root('v1'), s, tile('v1'), 3n * E18, 'ipfs://v1'))
  t.log(`gas: registerModel (4 shards) = ${r.gasUsed}`)
  t.deepEqual(events(reg, r, 'ModelRegistered')[0]?.args, [modelId, tc.wallet(1).address, name])
  const pub = events(reg, r, 'VersionPublished')[0]
  t.deepEqual(pub?.args, [modelId, 1n, root('v1'), tile('v1'), 4n, 3n * E18, 'ipfs://v1'])

  const m = await reg.modelOf(modelId)
  t.is(m.owner, tc.wallet(1).address)
  t.is(m.versionCount, 1n)
  t.is(m.name, name)
  t.is(await reg.modelCount(), 1n)
  t.is(await reg.modelIds(0), modelId)
  t.true(await reg.isRegisteredRoot(root('v1')))
  t.false(await reg.isRegisteredRoot(root('nope')))
  t.is(await reg.tileRootOf(root('v1')), tile('v1'))
  t.is(await reg.tileRootOf(root('nope')), ZERO32)
  t.deepEqual([...await reg.licenseOf(root('v1'))], [tc.wallet(1).address, 3n * E18])
  t.deepEqual([...await reg.licenseOf(root('nope'))], [ZERO, 0n])
  t.is(await reg.shardCountOf(root('v1')), 4n)
  t.deepEqual([...await reg.shardRootsOf(root('v1'))], s)
  for (let i = 0; i < 4; i++) t.is(await reg.shardRootOf(root('v1'), i), s[i])
  t.is(await reg.shardRootOf(root('v1'), 4), ZERO32)
  const [version, info] = await reg.latest(modelId)
  t.is(version, 1n)
  t.is(info.modelRoot, root('v1'))
  t.is(info.uri, 'ipfs://v1')
  t.false(info.deprecated)
  const ref = await reg.rootRef(root('v1'))
  t.deepEqual([ref.modelId, ref.version], [modelId, 1n])
})

test.serial('verifyShard: true only for the registered root of that shard of a live model', async (t) => {
  const s = shards('v1', 4)
  t.true(await reg.verifyShard(root('v1'), 2, s[2]))
  t.false(await reg.verifyShard(root('v1'), 2, s[1]), 'wrong shard index')
  t.false(await reg.verifyShard(root('v1'), 4, s[3]), 'out of range')
  t.false(await reg.verifyShard(root('v1'), 4, ZERO32), 'zero never verifies')
  t.false(await reg.verifyShard(root('other'), 0, s[0]), 'unregistered model root')
})

test.serial('registerModel: revert paths', async (t) => {
  const r1 = as(2).getFunction('registerModel')
  t.deepEqual(await reverts(t, r1('', root('x'), shards('x', 1), tile('x'), 0n, ''), 'NameInvalid'), ['0'])
  t.deepEqual(await reverts(t, r1('n'.repeat(65), root('x'), shards('x', 1), tile('x'), 0n, ''), 'NameInvalid'), ['65'])
  t.deepEqual(await reverts(t, r1('llama-3.2-1b-q8', root('x'), shards('x', 1), tile('x'), 0n, ''), 'ModelExists'), [modelId])
  await reverts(t, r1('x', ZERO32, shards('x', 1), tile('x'), 0n, ''), 'ZeroRoot')
  t.deepEqual(await reverts(t, r1('x', root('x'), [], tile('x'), 0n, ''), 'ShardCountInvalid'), ['0'])
  t.deepEqual(await reverts(t, r1('x', root('x'), shards('x', 1025), tile('x'), 0n, ''), 'ShardCountInvalid'), ['1025'])
  t.deepEqual(await reverts(t, r1('x', root('x'), [...shards('x', 2), ZERO32], tile('x'), 0n, ''), 'ShardRootZero'), ['2'])
  // A model root belongs to one version of one model only.
  t.deepEqual(await reverts(t, r1('x', root('v1'), shards('x', 1), tile('x'), 0n, ''), 'RootTaken'), [root('v1'), modelId, '1'])
  t.is(await reg.modelCount(), 1n)
})

test.serial('publishVersion: owner only; becomes latest; roots stay unique', async (t) => {
  const pub = (i: number): ReturnType<Contract['getFunction']> => as(i).getFunction('publishVersion')
  t.deepEqual(await reverts(t, pub(2)(modelId, root('v2'), shards('v2', 2), tile('v2'), 1n, 'ipfs://v2'), 'NotModelOwner'), [modelId, tc.wallet(2).address])
  t.deepEqual(await reverts(t, pub(1)(id('unknown'), root('v2'), shards('v2', 2), tile('v2'), 1n, 'ipfs://v2'), 'UnknownModel'), [id('unknown')])
  await reverts(t, pub(1)(modelId, root('v1'), shards('v2', 2), tile('v2'), 1n, 'ipfs://v2'), 'RootTaken')
  const r = await mined(pub(1)(modelId, root('v2'), shards('v2', 2), tile('v2'), 1n, 'ipfs://v2'))
  t.is(events(reg, r, 'VersionPublished')[0]?.version, 2n)
  const [version, info] = await reg.latest(modelId)
  t.is(version, 2n)
  t.is(info.modelRoot, root('v2'))
  t.is((await reg.versionOf(modelId, 1)).modelRoot, root('v1'))
  t.is((await reg.versionOf(modelId, 2)).licenseFee, 1n)
  t.deepEqual(await reverts(t, reg.versionOf(modelId, 3), 'UnknownVersion'), [modelId, '3'])
  await reverts(t, reg.versionOf(modelId, 0), 'UnknownVersion')
  await reverts(t, reg.latest(id('unknown')), 'UnknownModel')
  // Both versions stay usable.
  t.true(await reg.isRegisteredRoot(root('v1')))
  t.true(await reg.isRegisteredRoot(root('v2')))
})

test.serial('deprecateVersion: hides a version from isRegisteredRoot, verifyShard and latest, keeps tileRootOf for disputes', async (t) => {
  await reverts(t, as(2).getFunction('deprecateVersion')(modelId, 2), 'NotModelOwner')
  await reverts(t, as(1).getFunction('deprecateVersion')(modelId, 3), 'UnknownVersion')
  await reverts(t, as(1).getFunction('deprecateVersion')(modelId, 0), 'UnknownVersion')
  const r = await mined(as(1).getFunction('deprecateVersion')(modelId, 2))
  t.deepEqual(events(reg, r, 'VersionDeprecated')[0]?.args, [modelId, 2n, root('v2')])
  t.false(await reg.isRegisteredRoot(root('v2')))
  t.false(await reg.verifyShard(root('v2'), 0, shards('v2', 2)[0]))
  t.is(await reg.tileRootOf(root('v2')), tile('v2'))
  t.is((await reg.latest(modelId))[0], 1n, 'latest falls back to the newest live version')
  await reverts(t, as(1).getFunction('deprecateVersion')(modelId, 2), 'AlreadyDeprecated')
  // A deprecated root stays taken: it can never come back as different weights.
  await reverts(t, as(1).getFunction('publishVersion')(modelId, root('v2'), shards('v3', 1), tile('v3'), 0n, ''), 'RootTaken')
  await mined(as(1).getFunction('deprecateVersion')(modelId, 1))
  t.deepEqual(await reverts(t, reg.latest(modelId), 'NoActiveVersion'), [modelId])
})

test.serial('transferModelOwnership: license fees and control follow the new owner', async (t) => {
  await reverts(t, as(2).getFunction('transferModelOwnership')(modelId, tc.wallet(2).address), 'NotModelOwner')
  await reverts(t, as(1).getFunction('transferModelOwnership')(modelId, ZERO), 'ZeroAddress')
  const r = await mined(as(1).getFunction('transferModelOwnership')(modelId, tc.wallet(2).address))
  t.deepEqual(events(reg, r, 'ModelOwnershipTransferred')[0]?.args, [modelId, tc.wallet(1).address, tc.wallet(2).address])
  t.is((await reg.licenseOf(root('v1')))[0], tc.wallet(2).address)
  await reverts(t, as(1).getFunction('publishVersion')(modelId, root('v3'), shards('v3', 1), tile('v3'), 0n, ''), 'NotModelOwner')
  await mined(as(2).getFunction('publishVersion')(modelId, root('v3'), shards('v3', 1), tile('v3'), 0n, ''))
  t.is((await reg.latest(modelId))[0], 3n)
})
