// QuorumRegistry on the embedded chain with real BLS signatures: sampling (distinct,
// active only, capped by quorumSize, duplicate keys skipped), the commit window, and
// verifyQuorum's every outcome — all signers, non-signers within and beyond one third of
// the stake, the exact 2/3 boundary, unsorted/duplicate/outsider non-signers, and each
// way a signature can be wrong. The node registry is the test-only stub from
// contracts/test/QuorumHarness.sol; the last test runs against the real NodeRegistry.
import test, { type ExecutionContext } from 'ava'
import { Contract, ContractFactory, type ContractTransactionReceipt, type ContractTransactionResponse, getAddress, Interface, keccak256, toUtf8Bytes, Wallet, type JsonRpcProvider } from 'ethers'

import { deployQuorumFixture, makeValidator, measureQuorumGas, quorumAttestation, type QuorumFixture, type QuorumValidator } from '../bench/chain/quorum-gas.js'
import { loadArtifact } from '../runtime/chain/contracts.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import {
  aggregateG1, blsKeyPair, pkHash, proofOfPossession, sortByPkHash, type BlsKeyPair, type G1Point
} from '../runtime/crypto/bls.js'

let chain: EmbeddedChain
let provider: JsonRpcProvider
let signer: Wallet
const quorumIface = new Interface(loadArtifact('QuorumRegistry').abi)

const EPOCH = 5n
const ether = (n: number | bigint): bigint => BigInt(n) * 10n ** 18n
const digest = (label: string): string => keccak256(toUtf8Bytes(`quorum test ${label}`))

/** 10 validators with stakes 1..10 ether, the last three inactive; quorum of 5; epoch 5 committed. */
let main: QuorumFixture
let members: Array<{ address: string, keys: BlsKeyPair, stake: bigint }>
let commitReceipt: ContractTransactionReceipt | null

/** Expect `p` to revert with QuorumRegistry's custom error `name`; returns its arguments. */
async function revertsWith (t: ExecutionContext, p: Promise<unknown>, name: string): Promise<unknown[]> {
  const err = await t.throwsAsync(p)
  const e = err as { revert?: { name: string, args: unknown[] } | null, data?: string }
  let revert = e?.revert
  if (revert == null && typeof e?.data === 'string') {
    const parsed = quorumIface.parseError(e.data)
    if (parsed !== null) revert = { name: parsed.name, args: [...parsed.args] }
  }
  t.is(revert?.name, name, String(err))
  return [...(revert?.args ?? [])]
}

const verifyQuorum = async (f: QuorumFixture, epoch: bigint, d: string, att: ReturnType<typeof quorumAttestation>): Promise<[bigint, bigint]> =>
  [...await f.quorum.getFunction('verifyQuorum').staticCall(epoch, d, att.nonSignerPks, att.apkG2, att.sigma)] as [bigint, bigint]

async function send (c: Contract, fn: string, ...args: unknown[]): Promise<ContractTransactionResponse> {
  return await c.getFunction(fn).send(...args) as ContractTransactionResponse
}

test.before(async () => {
  chain = await startEmbeddedChain({ accounts: 5 })
  provider = connectProvider(chain.url, { chainId: chain.chainId })
  signer = new Wallet((chain.accounts[0] as { privateKey: string }).privateKey, provider)
  const validators = Array.from({ length: 10 }, (_, i) => makeValidator('quorum test', i, ether(i + 1)))
  main = await deployQuorumFixture(signer, validators, 5)
  for (const v of validators.slice(7)) await (await send(main.registry, 'setActive', v.address, false)).wait()
  await (await send(main.registry, 'setEpoch', EPOCH)).wait()
  commitReceipt = await (await send(main.quorum, 'commitQuorum', EPOCH)).wait()
  const byAddr = new Map(validators.map((v) => [v.address, v]))
  members = ((await main.quorum.getFunction('membersOf')(EPOCH)) as string[]).map((a) => byAddr.get(getAddress(a)) as QuorumValidator)
})

test.after.always(async () => {
  provider?.destroy()
  await chain?.stop()
})

test.serial('commitQuorum samples quorumSize distinct active validators and stores key, stakes and total', async (t) => {
  t.is(members.length, 5)
  t.is(new Set(members.map((m) => m.address)).size, 5)
  for (const m of members) t.true(m !== undefined && main.validators.indexOf(m) < 7, 'only active validators')
  const [apk, total, size] = await main.quorum.getFunction('quorumOf')(EPOCH) as [bigint[], bigint, bigint]
  t.deepEqual([apk[0], apk[1]], aggregateG1(members.map((m) => m.keys.g1)))
  const expected = members.reduce((s, m) => s + m.stake, 0n)
  t.is(total, expected)
  t.is(size, 5n)
  for (const m of members) {
    const [stake, isMember] = await main.quorum.getFunction('memberStake')(EPOCH, pkHash(m.keys.g1)) as [bigint, boolean]
    t.is(stake, m.stake)
    t.true(isMember)
  }
  const outsider = main.validators.find((v) => !members.includes(v)) as QuorumValidator
  t.deepEqual([...await main.quorum.getFunction('memberStake')(EPOCH, pkHash(outsider.keys.g1)) as [bigint, boolean]], [0n, false])
  t.true(await main.quorum.getFunction('isCommitted')(EPOCH))
  t.false(await main.quorum.getFunction('isCommitted')(EPOCH + 1n))
  const events = (commitReceipt?.logs ?? []).map((l) => quorumIface.parseLog(l)).filter((e) => e?.name === 'QuorumCommitted')
  t.is(events.length, 1)
  t.is(events[0]?.args.epoch, EPOCH)
  t.deepEqual([...events[0]?.args.members].map((a: string) => getAddress(a)), members.map((m) => m.address))
  t.is(events[0]?.args.totalStake, expected)
})

test.serial('commitQuorum: only the current and next epoch, once each; capped by the active count', async (t) => {
  await revertsWith(t, send(main.quorum, 'commitQuorum', EPOCH), 'QuorumAlreadyCommitted')
  t.deepEqual(await revertsWith(t, send(main.quorum, 'commitQuorum', EPOCH + 2n), 'EpochNotCommittable'), [EPOCH + 2n, EPOCH])
  t.deepEqual(await revertsWith(t, send(main.quorum, 'commitQuorum', EPOCH - 1n), 'EpochNotCommittable'), [EPOCH - 1n, EPOCH])
  // quorumSize above the active count: every active validator, none of the inactive ones.
  await (await send(main.params, 'setQuorumSize', 100)).wait()
  await (await send(main.quorum, 'commitQuorum', EPOCH + 1n)).wait()
  const next = ((await main.quorum.getFunction('membersOf')(EPOCH + 1n)) as string[]).map((a) => getAddress(a)).sort()
  t.deepEqual(next, main.validators.slice(0, 7).map((v) => v.address).sort())
  const [, total, size] = await main.quorum.getFunction('quorumOf')(EPOCH + 1n) as [bigint[], bigint, bigint]
  t.is(size, 7n)
  t.is(total, ether(1 + 2 + 3 + 4 + 5 + 6 + 7))
  await (await send(main.params, 'setQuorumSize', 5)).wait()
})

test.serial('commitQuorum with no active validator reverts NoActiveValidators; duplicate keys are sampled once', async (t) => {
  const empty = await deployQuorumFixture(signer, [], 4)
  t.deepEqual(await revertsWith(t, send(empty.quorum, 'commitQuorum', 0n), 'NoActiveValidators'), [0n])
  const inactive = await deployQuorumFixture(signer, [makeValidator('inactive', 0, ether(1))], 4)
  await (await send(inactive.registry, 'setActive', inactive.validators[0]?.address, false)).wait()
  await revertsWith(t, send(inactive.quorum, 'commitQuorum', 1n), 'NoActiveValidators')

  const a = makeValidator('dup', 0, ether(1))
  const b = { ...makeValidator('dup', 1, ether(2)), keys: a.keys }
  const c = makeValidator('dup', 2, ether(3))
  const dup = await deployQuorumFixture(signer, [a, b, c], 3)
  await (await send(dup.quorum, 'commitQuorum', 0n)).wait()
  const got = ((await dup.quorum.getFunction('membersOf')(0n)) as string[]).map((x) => getAddress(x))
  t.is(got.length, 2)
  t.true(got.includes(c.address))
  t.true(got.includes(a.address) !== got.includes(b.address))
  const [apk] = await dup.quorum.getFunction('quorumOf')(0n) as [bigint[]]
  t.deepEqual([apk[0], apk[1]], aggregateG1([a.keys.g1, c.keys.g1]))
})

test.serial('verifyQuorum: all signers, and non-signers holding under a third of the stake', async (t) => {
  const keys = members.map((m) => m.keys)
  const total = members.reduce((s, m) => s + m.stake, 0n)
  const d = digest('all')
  t.deepEqual(await verifyQuorum(main, EPOCH, d, quorumAttestation(keys, new Set(), d)), [total, total])
  // The lightest member abstains.
  const lightest = members.reduce((lo, m, i) => (m.stake < (members[lo] as QuorumValidator).stake ? i : lo), 0)
  const d2 = digest('one missing')
  const att = quorumAttestation(keys, new Set([lightest]), d2)
  t.is(att.nonSignerPks.length, 1)
  t.deepEqual(await verifyQuorum(main, EPOCH, d2, att), [total - (members[lightest] as QuorumValidator).stake, total])
})

test.serial('verifyQuorum: exactly two thirds passes, less reverts InsufficientQuorumStake', async (t) => {
  const three = Array.from({ length: 3 }, (_, i) => makeValidator('two thirds', i, ether(1)))
  const f = await deployQuorumFixture(signer, three, 3)
  await (await send(f.quorum, 'commitQuorum', 0n)).wait()
  const order = ((await f.quorum.getFunction('membersOf')(0n)) as string[]).map((a) => getAddress(a))
  const keys = order.map((a) => (three.find((v) => v.address === a) as QuorumValidator).keys)
  const d = digest('two thirds')
  t.deepEqual(await verifyQuorum(f, 0n, d, quorumAttestation(keys, new Set([0]), d)), [ether(2), ether(3)])
  const args = await revertsWith(t, verifyQuorum(f, 0n, d, quorumAttestation(keys, new Set([0, 2]), d)), 'InsufficientQuorumStake')
  t.deepEqual(args, [ether(1), ether(3)])
})

test.serial('verifyQuorum: non-signers unsorted, duplicated or outside the quorum are refused', async (t) => {
  const keys = members.map((m) => m.keys)
  const d = digest('lists')
  const att = quorumAttestation(keys, new Set([0]), d)
  // Two tiny-stake abstainers would still leave 2/3; check ordering before anything else.
  const two = sortByPkHash([keys[0]!.g1, keys[1]!.g1])
  const base = quorumAttestation(keys, new Set([0, 1]), d)
  t.deepEqual(await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...base, nonSignerPks: [two[1]!, two[0]!] }), 'NonSignersNotSorted'), [1n])
  t.deepEqual(await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...att, nonSignerPks: [keys[0]!.g1, keys[0]!.g1] }), 'NonSignersNotSorted'), [1n])
  const outsider = (main.validators.find((v) => !members.includes(v)) as QuorumValidator).keys.g1
  const args = await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...att, nonSignerPks: [outsider] }), 'NotAQuorumMember')
  t.deepEqual(args, [0n, pkHash(outsider)])
  await revertsWith(t, verifyQuorum(main, EPOCH + 7n, d, att), 'QuorumNotCommitted')
})

test.serial('verifyQuorum: wrong message, missing signature, foreign G2 key and unlisted abstainer revert InvalidQuorumSignature', async (t) => {
  const keys = members.map((m) => m.keys)
  const d = digest('sig')
  const good = quorumAttestation(keys, new Set([0]), d)
  t.truthy(await verifyQuorum(main, EPOCH, d, good))
  // Signed another digest.
  await revertsWith(t, verifyQuorum(main, EPOCH, digest('other'), good), 'InvalidQuorumSignature')
  // A member's signature left out of sigma but not declared a non-signer.
  const silent = quorumAttestation(keys, new Set([0, 1]), d)
  await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...silent, nonSignerPks: good.nonSignerPks }), 'InvalidQuorumSignature')
  // The G2 aggregate of a different set (includes the non-signer) with the right sigma.
  const all = quorumAttestation(keys, new Set(), d)
  await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...good, apkG2: all.apkG2 }), 'InvalidQuorumSignature')
  // An outsider's key and signature swapped in for a member's.
  const rogue = blsKeyPair('not a member')
  const forged = quorumAttestation([rogue, ...keys.slice(1)], new Set([]), d)
  await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...forged, nonSignerPks: good.nonSignerPks }), 'InvalidQuorumSignature')
  // A signature that is not a curve point.
  const bad: G1Point = [good.sigma[0], good.sigma[1] + 1n]
  await revertsWith(t, verifyQuorum(main, EPOCH, d, { ...good, sigma: bad }), 'InvalidQuorumSignature')
})

test.serial('with the real NodeRegistry: registered, staked validators form the quorum and sign', async (t) => {
  const arts = ['NodeRegistry', 'ProtocolParams', 'VerimeshToken'].map((n) => loadArtifact(n))
  const [regArt, paramsArt, tokenArt] = arts as [ReturnType<typeof loadArtifact>, ReturnType<typeof loadArtifact>, ReturnType<typeof loadArtifact>]
  const deploy = async (a: ReturnType<typeof loadArtifact>, from: Wallet, ...args: unknown[]): Promise<Contract> => {
    const c = await new ContractFactory(a.abi, a.bytecode, from).deploy(...args)
    await c.waitForDeployment()
    return new Contract(await c.getAddress(), a.abi, from)
  }
  const owner = signer
  const token = await deploy(tokenArt, owner, 'Verimesh', 'VMT', owner.address, ether(1_000_000))
  const params = await deploy(paramsArt, owner, owner.address, owner.address)
  const registry = await deploy(regArt, owner, await token.getAddress(), await params.getAddress(), owner.address)
  const qr = loadArtifact('QuorumRegistry')
  const quorum = await deploy(qr, owner, await registry.getAddress(), await params.getAddress())
  const minStake = await params.getFunction('minStake')() as bigint
  const ops = [1, 2, 3].map((i) => new Wallet((chain.accounts[i] as { privateKey: string }).privateKey, provider))
  const keys = ops.map((_, i) => blsKeyPair(`real registry ${i}`))
  for (const [i, op] of ops.entries()) {
    await (await send(token, 'transfer', op.address, minStake)).wait()
    const k = keys[i] as BlsKeyPair
    const pop = proofOfPossession(k.secretKey, chain.chainId, op.address)
    await (await (registry.connect(op) as Contract).getFunction('register')(toUtf8Bytes(`peer-${i}`), 8, k.g1, k.g2, pop)).wait()
    await (await (token.connect(op) as Contract).getFunction('approve')(await registry.getAddress(), minStake)).wait()
    await (await (registry.connect(op) as Contract).getFunction('stake')(minStake)).wait()
    t.true(await registry.getFunction('isActiveValidator')(op.address))
  }
  const epoch = await registry.getFunction('currentEpoch')() as bigint
  await (await send(quorum, 'commitQuorum', epoch)).wait()
  const order = ((await quorum.getFunction('membersOf')(epoch)) as string[]).map((a) => getAddress(a))
  t.is(order.length, 3)
  const ordered = order.map((a) => keys[ops.findIndex((o) => o.address === a)] as BlsKeyPair)
  const d = digest('real registry')
  const att = quorumAttestation(ordered, new Set([2]), d)
  const [signed, total] = await quorum.getFunction('verifyQuorum').staticCall(epoch, d, att.nonSignerPks, att.apkG2, att.sigma) as [bigint, bigint]
  t.is(total, minStake * 3n)
  t.is(signed, minStake * 2n)
})

test.serial('measureQuorumGas (bench/chain) yields one row per feasible combination', async (t) => {
  const rows = await measureQuorumGas({
    quorumSizes: [4],
    nonSigners: [0, 1, 2],
    chain: { url: chain.url, chainId: chain.chainId, privateKey: (chain.accounts[4] as { privateKey: string }).privateKey }
  })
  // 2 of 4 missing leaves half the stake: verifyQuorum would revert, so no row.
  t.deepEqual(rows.map((r) => [r.quorumSize, r.nonSigners, r.signedBps]), [[4, 0, 10_000], [4, 1, 7_500]])
  for (const r of rows) {
    t.true(Number.isInteger(r.callGas) && r.callGas > 0 && r.txGas > r.callGas, JSON.stringify(r))
    t.log(`gas: verifyQuorum q=${r.quorumSize} non-signers=${r.nonSigners}: call ${r.callGas}, tx ${r.txGas}`)
  }
})
