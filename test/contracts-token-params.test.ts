// VerimeshToken (fixed supply, burn, permit, votes), ProtocolParams (defaults,
// every setter's bounds by custom error, events, ownership) and deployProtocol
// (deterministic addresses, hand-over to the timelock).
import test from 'ava'
import { Signature, getCreateAddress, id, type Contract } from 'ethers'

import { deployOne, deployProtocol, type ProtocolAddresses } from '../runtime/chain/deploy.js'
import { E18, at, events, mined, reverts, startTestChain, type TestChain } from './contracts-helpers.js'

let tc: TestChain
let addrs: ProtocolAddresses
let token: Contract
let params: Contract // owned by account 0 (deployed directly, for the setter tests)

const SUPPLY = 1_000_000n * E18

test.before(async () => {
  tc = await startTestChain(4)
  addrs = await deployProtocol(tc.wallet(0), { initialSupply: SUPPLY, timelockDelay: 3600, votingDelay: 1, votingPeriod: 5 })
  token = at('VerimeshToken', addrs.token, tc.wallet(0))
  params = at('ProtocolParams', await deployOne('ProtocolParams', [tc.wallet(0).address, tc.wallet(3).address], tc.wallet(0)), tc.wallet(0))
})

test.after.always(async () => { await tc?.stop() })

test.serial('deployProtocol: fixed order from nonce 0, so addresses are predictable; governance owns everything', async (t) => {
  const deployer = tc.wallet(0).address
  const order: Array<keyof ProtocolAddresses> = ['token', 'timelock', 'governor', 'params', 'nodeRegistry', 'modelRegistry']
  order.forEach((key, nonce) => t.is(addrs[key], getCreateAddress({ from: deployer, nonce }), key))
  const p = at('ProtocolParams', addrs.params, tc.provider)
  const reg = at('NodeRegistry', addrs.nodeRegistry, tc.provider)
  const timelock = at('VerimeshTimelock', addrs.timelock, tc.provider)
  t.is(await p.owner(), addrs.timelock)
  t.is(await reg.owner(), addrs.timelock)
  t.is(await p.treasury(), addrs.timelock)
  t.true(await timelock.hasRole(id('PROPOSER_ROLE'), addrs.governor))
  t.true(await timelock.hasRole(id('CANCELLER_ROLE'), addrs.governor))
  t.true(await timelock.hasRole(id('EXECUTOR_ROLE'), '0x0000000000000000000000000000000000000000'))
  t.false(await timelock.hasRole('0x' + '00'.repeat(32), deployer), 'deployer renounced the timelock admin role')
  t.false(await timelock.hasRole(id('PROPOSER_ROLE'), deployer))
  t.is(await timelock.getMinDelay(), 3600n)
  t.is(await reg.params(), addrs.params)
  t.is(await reg.token(), addrs.token)
})

test.serial('token: whole supply minted once to the deployer, no mint function, burnable', async (t) => {
  t.is(await token.totalSupply(), SUPPLY)
  t.is(await token.balanceOf(tc.wallet(0).address), SUPPLY)
  t.is(await token.name(), 'Verimesh')
  t.is(await token.decimals(), 18n)
  t.is(token.interface.getFunction('mint'), null)
  await mined(token.burn(5n * E18))
  t.is(await token.totalSupply(), SUPPLY - 5n * E18)
  await reverts(t, token.connect(tc.wallet(1)).getFunction('burn')(1n), 'ERC20InsufficientBalance')
  await reverts(t, deployOne('VerimeshToken', ['X', 'X', '0x0000000000000000000000000000000000000000', 1n], tc.wallet(0)), 'InitialHolderZero')
})

test.serial('token: permit with a real EIP-712 signature sets the allowance; a replay fails', async (t) => {
  const owner = tc.wallet(1)
  const spender = tc.wallet(2).address
  await mined(token.transfer(owner.address, 10n * E18))
  const { chainId } = await tc.provider.getNetwork()
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600)
  const nonce = await token.nonces(owner.address) as bigint
  const sig = Signature.from(await owner.signTypedData(
    { name: 'Verimesh', version: '1', chainId, verifyingContract: addrs.token },
    { Permit: [{ name: 'owner', type: 'address' }, { name: 'spender', type: 'address' }, { name: 'value', type: 'uint256' }, { name: 'nonce', type: 'uint256' }, { name: 'deadline', type: 'uint256' }] },
    { owner: owner.address, spender, value: 7n * E18, nonce, deadline }
  ))
  // Submitted by a third party: permit is what lets a client skip its own approve transaction.
  await mined(token.permit(owner.address, spender, 7n * E18, deadline, sig.v, sig.r, sig.s))
  t.is(await token.allowance(owner.address, spender), 7n * E18)
  await reverts(t, token.permit(owner.address, spender, 7n * E18, deadline, sig.v, sig.r, sig.s), 'ERC2612InvalidSigner')
})

test.serial('token: votes follow delegation and transfers', async (t) => {
  const a = tc.wallet(2)
  await mined(token.transfer(a.address, 100n * E18))
  t.is(await token.getVotes(a.address), 0n, 'no votes until delegated')
  await mined(token.connect(a).getFunction('delegate')(a.address))
  t.is(await token.getVotes(a.address), 100n * E18)
  // Explicit gas: the embedded chain estimates 'pending' with the latest block's number, so
  // ERC20Votes sees the same clock as the delegation and prices an in-place checkpoint
  // update instead of the new checkpoint the next block writes (runtime/chain/evm-node.ts).
  await mined(token.connect(a).getFunction('transfer')(tc.wallet(0).address, 40n * E18, { gasLimit: 200_000 }))
  t.is(await token.getVotes(a.address), 60n * E18)
})

test.serial('params: defaults', async (t) => {
  t.deepEqual([...await params.feeSplit()], [7800n, 1200n, 1000n])
  t.is(await params.quorumSize(), 3n)
  t.is(await params.challengeWindow(), 3600n)
  t.is(await params.settlementCadence(), 30n)
  t.is(await params.epochLength(), 3600n)
  t.is(await params.unbondingDelay(), 7n * 86400n)
  t.is(await params.withdrawalDelay(), 86400n)
  t.is(await params.slashBps(), 1000n)
  t.is(await params.challengerRewardBps(), 5000n)
  t.is(await params.slashBurnBps(), 5000n)
  t.is(await params.disputeBond(), 100n * E18)
  t.is(await params.disputeResponseWindow(), 3600n)
  t.is(await params.minStake(), 1000n * E18)
  t.is(await params.treasury(), tc.wallet(3).address)
  await reverts(t, deployOne('ProtocolParams', [tc.wallet(0).address, '0x0000000000000000000000000000000000000000'], tc.wallet(0)), 'TreasuryZero')
})

test.serial('params: fee split must sum to 10000', async (t) => {
  const args = await reverts(t, params.setFeeSplit(7000, 2000, 999), 'FeeSplitInvalid')
  t.deepEqual(args, ['7000', '2000', '999'])
  await reverts(t, params.setFeeSplit(10000, 1, 0), 'FeeSplitInvalid')
  const r = await mined(params.setFeeSplit(7000, 2000, 1000))
  t.deepEqual(events(params, r, 'FeeSplitChanged')[0]?.args, [7000n, 2000n, 1000n])
  t.deepEqual([...await params.feeSplit()], [7000n, 2000n, 1000n])
  await mined(params.setFeeSplit(0, 0, 10000))
  t.deepEqual([...await params.feeSplit()], [0n, 0n, 10000n])
})

const name32 = (s: string): string => '0x' + Buffer.from(s).toString('hex').padEnd(64, '0')

test.serial('params: every numeric setter enforces its bounds with ValueOutOfRange and emits ParameterChanged', async (t) => {
  const day = 86400
  const cases: Array<[string, string, bigint | number, bigint | number, bigint | number]> = [
    // setter, parameter name, a good value, one below the minimum, one above the maximum
    ['setMinStake', 'minStake', 5n * E18, 0n, 2n ** 128n],
    ['setDisputeBond', 'disputeBond', 7n * E18, 0n, 2n ** 128n],
    ['setQuorumSize', 'quorumSize', 5, 0, 257],
    ['setSettlementCadence', 'settlementCadence', 60, 0, day + 1],
    ['setEpochLength', 'epochLength', 2 * 3600, 59, 30 * day + 1],
    ['setWithdrawalDelay', 'withdrawalDelay', 2 * day, 59, 30 * day + 1],
    ['setDisputeResponseWindow', 'disputeResponseWindow', 600, 59, 30 * day + 1],
    ['setChallengeWindow', 'challengeWindow', 2 * 3600, 59, 7 * day + 1], // capped by the 7-day unbonding delay
    ['setUnbondingDelay', 'unbondingDelay', 14 * day, 2 * 3600 - 1, 90 * day + 1] // floored by the challenge window just set
  ]
  for (const [setter, name, good, low, high] of cases) {
    const before = await params.getFunction(name)() as bigint
    for (const bad of [low, high]) {
      const args = await reverts(t, params.getFunction(setter)(bad), 'ValueOutOfRange')
      t.is(args[0], name32(name), setter)
      t.is(args[1], String(bad), setter)
    }
    const r = await mined(params.getFunction(setter)(good))
    const ev = events(params, r, 'ParameterChanged')[0]
    t.deepEqual(ev?.args, [name32(name), before, BigInt(good)], setter)
    t.is(await params.getFunction(name)(), BigInt(good), setter)
  }
})

test.serial('params: slashing ratios and treasury', async (t) => {
  await reverts(t, params.setSlashing(0, 5000, 5000), 'ValueOutOfRange')
  await reverts(t, params.setSlashing(5001, 5000, 5000), 'ValueOutOfRange')
  await reverts(t, params.setSlashing(1000, 10001, 5000), 'ValueOutOfRange')
  await reverts(t, params.setSlashing(1000, 5000, 10001), 'ValueOutOfRange')
  const r = await mined(params.setSlashing(2000, 4000, 10000))
  t.is(events(params, r, 'ParameterChanged').length, 3)
  t.deepEqual([await params.slashBps(), await params.challengerRewardBps(), await params.slashBurnBps()], [2000n, 4000n, 10000n])
  await reverts(t, params.setTreasury('0x0000000000000000000000000000000000000000'), 'TreasuryZero')
  await mined(params.setTreasury(tc.wallet(2).address))
  t.is(await params.treasury(), tc.wallet(2).address)
})

test.serial('params: only the owner can set anything', async (t) => {
  const stranger = params.connect(tc.wallet(1)) as Contract
  const calls: Array<[string, unknown[]]> = [
    ['setFeeSplit', [7800, 1200, 1000]], ['setTreasury', [tc.wallet(1).address]], ['setMinStake', [1n]],
    ['setDisputeBond', [1n]], ['setQuorumSize', [3]], ['setChallengeWindow', [3600]], ['setSettlementCadence', [30]],
    ['setEpochLength', [3600]], ['setUnbondingDelay', [7 * 86400]], ['setWithdrawalDelay', [86400]],
    ['setDisputeResponseWindow', [3600]], ['setSlashing', [1000, 5000, 5000]]
  ]
  for (const [fn, args] of calls) {
    const decoded = await reverts(t, stranger.getFunction(fn)(...args), 'OwnableUnauthorizedAccount')
    t.is(decoded[0], tc.wallet(1).address, fn)
  }
})
