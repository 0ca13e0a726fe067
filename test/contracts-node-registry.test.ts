// NodeRegistry on the embedded chain with real BLS keys and proofs of
// possession (runtime/crypto/bls.ts): registration and every revert path by
// custom error, staking and unbonding timing, exit and deregistration, epochs,
// slashing accounting (reward, burn, treasury), and value conservation
// (registry balance == Σ bonded + Σ unbonding) after every step.
import test, { type ExecutionContext } from 'ava'
import { hexlify, randomBytes, type Contract } from 'ethers'

import { deployProtocol, type ProtocolAddresses } from '../runtime/chain/deploy.js'
import { blsKeyPair, proofOfPossession, type BlsKeyPair, type G1Point, type G2Point } from '../runtime/crypto/bls.js'
import { E18, advanceTo, at, events, increaseTime, mined, now, reverts, startTestChain, type TestChain } from './contracts-helpers.js'

const ROUTER = 1
const EXECUTOR = 2
const QUORUM = 8
const DAY = 86400
const ZERO = '0x0000000000000000000000000000000000000000'
const NO_G1: G1Point = [0n, 0n]
const NO_G2: G2Point = [0n, 0n, 0n, 0n]
// Explicit gas on slashes: a slash burns, and the burn writes an ERC20Votes total-supply
// checkpoint. The embedded chain estimates 'pending' with the latest block's number, so
// after a burn in the previous block it prices an in-place checkpoint update where the
// next block writes a new one, and the estimate falls short (runtime/chain/evm-node.ts).
const GAS = { gasLimit: 1_000_000 }

let tc: TestChain
let addrs: ProtocolAddresses
let chainId: bigint
let token: Contract
let params: Contract
let reg: Contract // as the owner (account 0)
const keys = new Map<number, BlsKeyPair>()

const OWNER = 0
const SLASHER = 5
const CHALLENGER = 6
const TREASURY = 7

const w = (i: number): ReturnType<TestChain['wallet']> => tc.wallet(i)
const as = (i: number): Contract => reg.connect(w(i)) as Contract
const keyOf = (i: number): BlsKeyPair => {
  let k = keys.get(i)
  if (k === undefined) keys.set(i, (k = blsKeyPair(`node-registry-test operator ${i}`)))
  return k
}
const peerId = (i: number): string => hexlify(Buffer.concat([Buffer.from([0x00, 0x24, 0x08, 0x01, 0x12, 0x20]), Buffer.alloc(32, i)]))
const pop = (i: number, operator = w(i).address, key = keyOf(i)): G1Point => proofOfPossession(key.secretKey, chainId, operator)

async function register (i: number, roles = QUORUM | EXECUTOR): Promise<Awaited<ReturnType<typeof mined>>> {
  const k = keyOf(i)
  return mined(as(i).getFunction('register')(peerId(i), roles, k.g1, k.g2, pop(i)))
}

async function fund (i: number, amount: bigint): Promise<void> {
  await mined(token.transfer(w(i).address, amount))
  await mined((token.connect(w(i)) as Contract).getFunction('approve')(addrs.nodeRegistry, amount))
}

/** The registry holds exactly what its books say, operator by operator and in total. */
async function assertConserved (t: ExecutionContext): Promise<void> {
  const balance = await token.balanceOf(addrs.nodeRegistry) as bigint
  const totalBonded = await reg.totalBonded() as bigint
  const totalUnbonding = await reg.totalUnbonding() as bigint
  t.is(balance, totalBonded + totalUnbonding, 'registry balance == totalBonded + totalUnbonding')
  let bonded = 0n
  let slashable = 0n
  const count = Number(await reg.operatorCount())
  for (let i = 0; i < count; i++) {
    const op = await reg.operatorAt(i) as string
    bonded += await reg.bondedStakeOf(op) as bigint
    slashable += await reg.slashableStakeOf(op) as bigint
  }
  t.is(bonded, totalBonded, 'Σ bonded == totalBonded')
  t.is(slashable, totalBonded + totalUnbonding, 'Σ slashable == totals')
}

test.before(async () => {
  tc = await startTestChain(10)
  chainId = (await tc.provider.getNetwork()).chainId
  addrs = await deployProtocol(w(OWNER), { governance: 'deployer', treasury: w(TREASURY).address, timelockDelay: 60, votingDelay: 1, votingPeriod: 5 })
  token = at('VerimeshToken', addrs.token, w(OWNER))
  params = at('ProtocolParams', addrs.params, w(OWNER))
  reg = at('NodeRegistry', addrs.nodeRegistry, w(OWNER))
  await mined(reg.setSlasher(w(SLASHER).address, true))
})

test.after.always(async () => { await tc?.stop() })

test.serial('register with a real BLS key and proof of possession', async (t) => {
  const r = await register(1)
  t.log(`gas: register (BLS proof of possession) = ${r.gasUsed}`)
  const ev = events(reg, r, 'NodeRegistered')[0]
  t.is(ev?.operator, w(1).address)
  t.is(ev?.peerId, peerId(1))
  t.is(ev?.roles, BigInt(QUORUM | EXECUTOR))
  t.is(await reg.rolesOf(w(1).address), BigInt(QUORUM | EXECUTOR))
  t.deepEqual([...await reg.blsG1Of(w(1).address)], keyOf(1).g1)
  t.is(await reg.operatorCount(), 1n)
  t.is(await reg.operatorAt(0), w(1).address)
  t.true(await reg.isRegistered(w(1).address))
  t.false(await reg.isActiveValidator(w(1).address), 'no stake yet')
  const node = await reg.nodeOf(w(1).address)
  t.is(node.peerId, peerId(1))
  t.false(node.exiting)
  // A node without a BLS key is fine for roles that do not sign attestations.
  await mined(as(2).getFunction('register')(peerId(2), ROUTER | EXECUTOR, NO_G1, NO_G2, NO_G1))
  t.deepEqual([...await reg.blsG1Of(w(2).address)], [0n, 0n])
  await assertConserved(t)
})

test.serial('register: every revert path by its custom error', async (t) => {
  const k3 = keyOf(3)
  const reg3 = as(3).getFunction('register')
  t.deepEqual(await reverts(t, as(1).getFunction('register')(peerId(9), QUORUM, keyOf(9).g1, keyOf(9).g2, pop(9, w(1).address)), 'AlreadyRegistered'), [w(1).address])
  t.deepEqual(await reverts(t, reg3(peerId(3), 0, k3.g1, k3.g2, pop(3)), 'RolesInvalid'), ['0'])
  t.deepEqual(await reverts(t, reg3(peerId(3), 32, k3.g1, k3.g2, pop(3)), 'RolesInvalid'), ['32'])
  t.deepEqual(await reverts(t, reg3('0x', QUORUM, k3.g1, k3.g2, pop(3)), 'PeerIdInvalid'), ['0'])
  t.deepEqual(await reverts(t, reg3(hexlify(randomBytes(65)), QUORUM, k3.g1, k3.g2, pop(3)), 'PeerIdInvalid'), ['65'])
  t.deepEqual(await reverts(t, reg3(peerId(1), QUORUM, k3.g1, k3.g2, pop(3)), 'PeerIdTaken'), [w(1).address])
  // Operator 1's key with a proof made for operator 3 still cannot be registered twice.
  t.deepEqual(await reverts(t, reg3(peerId(3), QUORUM, keyOf(1).g1, keyOf(1).g2, proofOfPossession(keyOf(1).secretKey, chainId, w(3).address)), 'BlsKeyTaken'), [w(1).address])
  // A proof of possession bound to another operator (copied from the mempool) fails.
  await reverts(t, reg3(peerId(3), QUORUM, k3.g1, k3.g2, pop(3, w(4).address)), 'InvalidPossession')
  // …and one for another chain.
  await reverts(t, reg3(peerId(3), QUORUM, k3.g1, k3.g2, proofOfPossession(k3.secretKey, chainId + 1n, w(3).address)), 'InvalidPossession')
  // A G2 key that does not match the G1 key.
  await reverts(t, reg3(peerId(3), QUORUM, k3.g1, keyOf(4).g2, pop(3)), 'InvalidPossession')
  await reverts(t, reg3(peerId(3), QUORUM, NO_G1, NO_G2, NO_G1), 'BlsKeyRequired')
  t.deepEqual(await reverts(t, as(3).getFunction('updateRoles')(ROUTER), 'NotRegistered'), [w(3).address])
  t.is(await reg.operatorCount(), 2n)
})

test.serial('updateRoles: bounds, and the quorum role needs a BLS key', async (t) => {
  await reverts(t, as(2).getFunction('updateRoles')(QUORUM), 'BlsKeyRequired')
  await reverts(t, as(2).getFunction('updateRoles')(0), 'RolesInvalid')
  const r = await mined(as(2).getFunction('updateRoles')(31 & ~QUORUM))
  t.deepEqual(events(reg, r, 'RolesUpdated')[0]?.args, [w(2).address, BigInt(ROUTER | EXECUTOR), BigInt(31 & ~QUORUM)])
  t.is(await reg.rolesOf(w(2).address), BigInt(31 & ~QUORUM))
})

test.serial('stake makes a quorum node an active validator at minStake', async (t) => {
  const minStake = await params.minStake() as bigint
  await fund(1, 2n * minStake)
  await reverts(t, as(1).getFunction('stake')(0n), 'ZeroAmount')
  await reverts(t, as(3).getFunction('stake')(1n), 'NotRegistered')
  await reverts(t, as(1).getFunction('stake')(2n * minStake + 1n), 'ERC20InsufficientAllowance')
  const first = await mined(as(1).getFunction('stake')(minStake - 1n))
  t.log(`gas: stake (first deposit) = ${first.gasUsed}`)
  t.false(await reg.isActiveValidator(w(1).address))
  const r = await mined(as(1).getFunction('stake')(1n))
  t.log(`gas: stake (second deposit) = ${r.gasUsed}`)
  t.deepEqual(events(reg, r, 'Staked')[0]?.args, [w(1).address, 1n, minStake])
  t.true(await reg.isActiveValidator(w(1).address))
  t.is(await reg.bondedStakeOf(w(1).address), minStake)
  // Operator 2 has stake but no quorum role: never an active validator.
  await fund(2, minStake)
  await mined(as(2).getFunction('stake')(minStake))
  t.false(await reg.isActiveValidator(w(2).address))
  // Governance raising minStake deactivates at once.
  await mined(params.setMinStake(minStake + 1n))
  t.false(await reg.isActiveValidator(w(1).address))
  await mined(params.setMinStake(minStake))
  t.true(await reg.isActiveValidator(w(1).address))
  await assertConserved(t)
})

test.serial('unbonding: locked for unbondingDelay, then withdrawable once', async (t) => {
  const op = w(1).address
  const minStake = await params.minStake() as bigint
  await mined(as(1).getFunction('stake')(minStake)) // bonded 2·minStake
  t.deepEqual(await reverts(t, as(1).getFunction('requestUnbond')(2n * minStake + 1n), 'InsufficientBonded'), [String(2n * minStake + 1n), String(2n * minStake)])
  await reverts(t, as(1).getFunction('requestUnbond')(0n), 'ZeroAmount')
  await reverts(t, as(1).getFunction('withdraw')(), 'NothingToWithdraw')
  const r = await mined(as(1).getFunction('requestUnbond')(minStake))
  t.log(`gas: requestUnbond = ${r.gasUsed}`)
  const unlockAt = Number((events(reg, r, 'UnbondRequested')[0]?.args ?? [])[3])
  const requestedAt = (await tc.provider.getBlock(r.blockNumber))?.timestamp ?? 0
  t.is(unlockAt, requestedAt + 7 * DAY)
  t.is(await reg.bondedStakeOf(op), minStake)
  t.is(await reg.slashableStakeOf(op), 2n * minStake)
  t.true(await reg.isActiveValidator(op), 'still minStake bonded')
  await assertConserved(t)

  await advanceTo(tc.provider, unlockAt - 120)
  t.deepEqual(await reverts(t, as(1).getFunction('withdraw')(), 'UnbondingLocked'), [String(unlockAt)])
  // A second request restarts the clock for the whole pending amount.
  const r2 = await mined(as(1).getFunction('requestUnbond')(1n))
  const unlockAt2 = Number((events(reg, r2, 'UnbondRequested')[0]?.args ?? [])[3])
  t.true(unlockAt2 > unlockAt)
  t.false(await reg.isActiveValidator(op), 'below minStake')
  await advanceTo(tc.provider, unlockAt + 1)
  await reverts(t, as(1).getFunction('withdraw')(), 'UnbondingLocked')
  await advanceTo(tc.provider, unlockAt2)
  const before = await token.balanceOf(op) as bigint
  const rw = await mined(as(1).getFunction('withdraw')())
  t.log(`gas: withdraw = ${rw.gasUsed}`)
  t.deepEqual(events(reg, rw, 'Withdrawn')[0]?.args, [op, minStake + 1n])
  t.is(await token.balanceOf(op), before + minStake + 1n)
  t.is(await reg.slashableStakeOf(op), minStake - 1n)
  await reverts(t, as(1).getFunction('withdraw')(), 'NothingToWithdraw')
  await assertConserved(t)
})

test.serial('slash: only slashers; bonded first, then unbonding; reward, burn and treasury split; value conserved', async (t) => {
  const op = w(1).address
  await fund(1, 1n)
  await mined(as(1).getFunction('stake')(1n)) // bonded = minStake
  const minStake = await params.minStake() as bigint
  t.is(await reg.bondedStakeOf(op), minStake)
  await mined(as(1).getFunction('requestUnbond')(minStake / 2n)) // bonded = unbonding = minStake/2
  const half = minStake / 2n

  t.deepEqual(await reverts(t, as(CHALLENGER).getFunction('slash')(op, 1n, w(CHALLENGER).address, '0x' + '00'.repeat(32)), 'NotSlasher'), [w(CHALLENGER).address])
  await reverts(t, as(CHALLENGER).getFunction('setSlasher')(w(CHALLENGER).address, true), 'OwnableUnauthorizedAccount')
  await reverts(t, reg.setSlasher(ZERO, true), 'ZeroAddress')

  const supply0 = await token.totalSupply() as bigint
  const treasury0 = await token.balanceOf(w(TREASURY).address) as bigint
  const challenger0 = await token.balanceOf(w(CHALLENGER).address) as bigint
  const reason = '0x' + Buffer.from('dispute 1').toString('hex').padEnd(64, '0')
  // Take more than is bonded: the rest comes out of unbonding.
  const amount = half + half / 4n
  const slasher = as(SLASHER)
  t.is(await slasher.getFunction('slash').staticCall(op, amount, w(CHALLENGER).address, reason), amount)
  const r = await mined(slasher.getFunction('slash')(op, amount, w(CHALLENGER).address, reason, GAS))
  t.log(`gas: slash (bonded + unbonding, reward + burn + treasury) = ${r.gasUsed}`)
  const reward = amount * 5000n / 10000n
  const burned = (amount - reward) * 5000n / 10000n
  const toTreasury = amount - reward - burned
  const ev = events(reg, r, 'Slashed')[0]
  t.deepEqual(ev?.args, [op, w(SLASHER).address, w(CHALLENGER).address, reason, amount, reward, burned, toTreasury])
  t.is(await reg.bondedStakeOf(op), 0n)
  t.is(await reg.slashableStakeOf(op), half - half / 4n)
  t.is(await token.balanceOf(w(CHALLENGER).address), challenger0 + reward)
  t.is(await token.balanceOf(w(TREASURY).address), treasury0 + toTreasury)
  t.is(await token.totalSupply(), supply0 - burned)
  t.false(await reg.isActiveValidator(op))
  await assertConserved(t)

  // Asking for more than is left takes what is left; no beneficiary sends the reward to the treasury.
  const left = half - half / 4n
  const treasury1 = await token.balanceOf(w(TREASURY).address) as bigint
  const r2 = await mined(slasher.getFunction('slash')(op, 10n * minStake, ZERO, reason, GAS))
  const ev2 = events(reg, r2, 'Slashed')[0]
  t.is(ev2?.taken, left)
  t.is(ev2?.reward, 0n)
  const burned2 = (left - left * 5000n / 10000n) * 5000n / 10000n
  t.is(ev2?.burned, burned2)
  t.is(await token.balanceOf(w(TREASURY).address), treasury1 + left - burned2)
  t.is(await reg.slashableStakeOf(op), 0n)
  // Nothing left: returns 0, emits nothing, does not revert (a won dispute must be able to finish).
  t.is(await slasher.getFunction('slash').staticCall(op, 1n, ZERO, reason), 0n)
  const r3 = await mined(slasher.getFunction('slash')(op, 1n, ZERO, reason, GAS))
  t.is(events(reg, r3, 'Slashed').length, 0)
  await assertConserved(t)

  // Governance can take the right away.
  await mined(reg.setSlasher(w(SLASHER).address, false))
  await reverts(t, slasher.getFunction('slash')(w(2).address, 1n, ZERO, reason), 'NotSlasher')
  await mined(reg.setSlasher(w(SLASHER).address, true))
})

test.serial('slash ratios follow the parameters: all burned, or all to the treasury', async (t) => {
  const op = w(2).address
  const bonded = await reg.bondedStakeOf(op) as bigint
  const reason = '0x' + '11'.repeat(32)
  await mined(params.setSlashing(1000, 0, 10000))
  const supply0 = await token.totalSupply() as bigint
  await mined(as(SLASHER).getFunction('slash')(op, 100n * E18, w(CHALLENGER).address, reason, GAS))
  t.is(await token.totalSupply(), supply0 - 100n * E18)
  await mined(params.setSlashing(1000, 0, 0))
  const treasury0 = await token.balanceOf(w(TREASURY).address) as bigint
  await mined(as(SLASHER).getFunction('slash')(op, 100n * E18, w(CHALLENGER).address, reason, GAS))
  t.is(await token.balanceOf(w(TREASURY).address), treasury0 + 100n * E18)
  t.is(await reg.bondedStakeOf(op), bonded - 200n * E18)
  await mined(params.setSlashing(1000, 5000, 5000))
  await assertConserved(t)
})

test.serial('exit: stops validation, unbonds everything, stays slashable until withdrawn; deregister frees peer id and key', async (t) => {
  const minStake = await params.minStake() as bigint
  await register(4, QUORUM)
  await fund(4, minStake)
  await mined(as(4).getFunction('stake')(minStake))
  t.true(await reg.isActiveValidator(w(4).address))
  t.is(await reg.operatorCount(), 3n)

  await reverts(t, as(4).getFunction('deregister')(), 'StakeRemaining')
  const r = await mined(as(4).getFunction('exit')())
  t.is(events(reg, r, 'ExitStarted').length, 1)
  t.false(await reg.isActiveValidator(w(4).address))
  t.is(await reg.bondedStakeOf(w(4).address), 0n)
  t.is(await reg.slashableStakeOf(w(4).address), minStake)
  await reverts(t, as(4).getFunction('exit')(), 'NodeIsExiting')
  await reverts(t, as(4).getFunction('stake')(1n), 'NodeIsExiting')
  await reverts(t, as(4).getFunction('updateRoles')(ROUTER), 'NodeIsExiting')
  t.deepEqual(await reverts(t, as(4).getFunction('deregister')(), 'StakeRemaining'), [String(minStake)])
  // Still slashable while unbonding.
  await mined(as(SLASHER).getFunction('slash')(w(4).address, 10n * E18, ZERO, '0x' + '22'.repeat(32), GAS))
  await assertConserved(t)

  await increaseTime(tc.provider, 7 * DAY + 1)
  await mined(as(4).getFunction('withdraw')())
  const rd = await mined(as(4).getFunction('deregister')())
  t.is(events(reg, rd, 'NodeDeregistered').length, 1)
  t.false(await reg.isRegistered(w(4).address))
  t.is(await reg.operatorCount(), 2n)
  const listed = [await reg.operatorAt(0), await reg.operatorAt(1)]
  t.false(listed.includes(w(4).address))
  t.is(await reg.operatorOfPeerHash((await import('ethers')).keccak256(peerId(4))), ZERO)

  // Operator 1 (fully slashed, nothing unbonding) deregisters: swap-and-pop keeps enumeration dense.
  await mined(as(1).getFunction('deregister')())
  t.is(await reg.operatorCount(), 1n)
  t.is(await reg.operatorAt(0), w(2).address)
  // Its peer id and BLS key are free again, for an operator that proves possession itself.
  const k1 = keyOf(1)
  await mined(as(3).getFunction('register')(peerId(1), QUORUM, k1.g1, k1.g2, proofOfPossession(k1.secretKey, chainId, w(3).address)))
  t.deepEqual([...await reg.blsG1Of(w(3).address)], k1.g1)
  t.is(await reg.operatorCount(), 2n)
  await assertConserved(t)
})

test.serial('epochs: numbered from deployment by params.epochLength', async (t) => {
  const genesis = Number(await reg.genesis())
  const len = Number(await params.epochLength())
  const latest = await now(tc.provider)
  const epoch = Number(await reg.currentEpoch())
  t.is(epoch, Math.floor((latest - genesis) / len))
  t.is(Number(await reg.epochStart(epoch)), genesis + epoch * len)
  t.is(Number(await reg.epochStart(epoch + 1)), genesis + (epoch + 1) * len)
  await advanceTo(tc.provider, genesis + (epoch + 1) * len)
  t.is(Number(await reg.currentEpoch()), epoch + 1)
})

test.serial('random stake/unbond/withdraw/slash sequence keeps the registry balance equal to its books', async (t) => {
  // A seeded walk, so a failure reproduces.
  let seed = 0x5eed
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n }
  const ops = [2, 3]
  await fund(3, 5000n * E18)
  await fund(2, 5000n * E18)
  for (let step = 0; step < 12; step++) {
    const i = ops[rnd(ops.length)] as number
    const op = w(i).address
    const node = await reg.nodeOf(op)
    const action = rnd(4)
    if (action === 0) {
      await mined(as(i).getFunction('stake')(BigInt(1 + rnd(300)) * E18))
    } else if (action === 1 && (node.bonded as bigint) > 0n) {
      await mined(as(i).getFunction('requestUnbond')(1n + BigInt(rnd(1000)) * (node.bonded as bigint) / 1000n))
    } else if (action === 2 && (node.unbonding as bigint) > 0n) {
      await advanceTo(tc.provider, Number(node.unlockAt))
      await mined(as(i).getFunction('withdraw')())
    } else {
      await mined(as(SLASHER).getFunction('slash')(op, BigInt(rnd(400)) * E18, w(CHALLENGER).address, '0x' + '33'.repeat(32), GAS))
    }
    await assertConserved(t)
  }
})
