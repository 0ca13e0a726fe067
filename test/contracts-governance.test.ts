// Parameters change only through governor → timelock: a full proposal
// (delegate, propose setFeeSplit, vote, queue, wait, execute), the timelock
// delay enforced, direct calls by anyone else refused.
import test from 'ava'
import { id, type Contract } from 'ethers'

import { deployProtocol, type ProtocolAddresses } from '../runtime/chain/deploy.js'
import { E18, at, increaseTime, mine, mined, reverts, startTestChain, type TestChain } from './contracts-helpers.js'

let tc: TestChain
let addrs: ProtocolAddresses
let governor: Contract
let params: Contract
let token: Contract

const DELAY = 3600
const VOTING_DELAY = 2
const VOTING_PERIOD = 10
// Explicit gas on vote-checkpointing calls: the embedded chain estimates 'pending' with the
// latest block's number, which underprices a new ERC20Votes checkpoint (runtime/chain/evm-node.ts).
const GAS = { gasLimit: 1_000_000 }

enum State { Pending, Active, Canceled, Defeated, Succeeded, Queued, Expired, Executed }

test.before(async () => {
  tc = await startTestChain(3)
  addrs = await deployProtocol(tc.wallet(0), { initialSupply: 1_000_000n * E18, timelockDelay: DELAY, votingDelay: VOTING_DELAY, votingPeriod: VOTING_PERIOD, quorumPercent: 4 })
  governor = at('VerimeshGovernor', addrs.governor, tc.wallet(0))
  params = at('ProtocolParams', addrs.params, tc.wallet(0))
  token = at('VerimeshToken', addrs.token, tc.wallet(0))
})

test.after.always(async () => { await tc?.stop() })

test.serial('the deployer cannot change parameters directly: the timelock owns them', async (t) => {
  const args = await reverts(t, params.setFeeSplit(7000, 2000, 1000), 'OwnableUnauthorizedAccount')
  t.is(args[0], tc.wallet(0).address)
  await reverts(t, at('NodeRegistry', addrs.nodeRegistry, tc.wallet(0)).setSlasher(tc.wallet(1).address, true), 'OwnableUnauthorizedAccount')
  // Nor can anyone schedule on the timelock except the governor.
  const timelock = at('VerimeshTimelock', addrs.timelock, tc.wallet(0))
  const data = params.interface.encodeFunctionData('setFeeSplit', [7000, 2000, 1000])
  await reverts(t, timelock.schedule(addrs.params, 0, data, '0x' + '00'.repeat(32), id('salt'), DELAY), 'AccessControlUnauthorizedAccount')
})

test.serial('a proposal to change the fee split passes, waits out the timelock and executes', async (t) => {
  t.is(await governor.votingDelay(), BigInt(VOTING_DELAY))
  t.is(await governor.votingPeriod(), BigInt(VOTING_PERIOD))
  t.is(await governor.timelock(), addrs.timelock)

  // Voting power needs delegation; a second holder votes against to show counting.
  await mined(token.transfer(tc.wallet(1).address, 10_000n * E18, GAS))
  await mined(token.delegate(tc.wallet(0).address, GAS))
  await mined(token.connect(tc.wallet(1)).getFunction('delegate')(tc.wallet(1).address, GAS))
  await mine(tc.provider, 1)

  const targets = [addrs.params]
  const values = [0n]
  const calldatas = [params.interface.encodeFunctionData('setFeeSplit', [7000, 2000, 1000])]
  const description = 'Fee split 70/20/10'
  const descriptionHash = id(description)
  const proposalId = await governor.hashProposal(targets, values, calldatas, descriptionHash) as bigint

  // Queueing or executing before the vote is refused.
  await reverts(t, governor.queue(targets, values, calldatas, descriptionHash), 'GovernorNonexistentProposal')
  await mined(governor.propose(targets, values, calldatas, description, GAS))
  t.is(Number(await governor.state(proposalId)), State.Pending)
  await reverts(t, governor.castVote(proposalId, 1), 'GovernorUnexpectedProposalState')

  await mine(tc.provider, VOTING_DELAY + 1)
  t.is(Number(await governor.state(proposalId)), State.Active)
  await mined(governor.castVote(proposalId, 1, GAS)) // for
  await mined(governor.connect(tc.wallet(1)).getFunction('castVote')(proposalId, 0, GAS)) // against
  await reverts(t, governor.castVote(proposalId, 1), 'GovernorAlreadyCastVote')
  const [against, forVotes] = await governor.proposalVotes(proposalId) as [bigint, bigint, bigint]
  t.is(against, 10_000n * E18)
  t.is(forVotes, 990_000n * E18)

  await reverts(t, governor.queue(targets, values, calldatas, descriptionHash), 'GovernorUnexpectedProposalState')
  await mine(tc.provider, VOTING_PERIOD + 1)
  t.is(Number(await governor.state(proposalId)), State.Succeeded)

  await mined(governor.queue(targets, values, calldatas, descriptionHash, GAS))
  t.is(Number(await governor.state(proposalId)), State.Queued)
  // Executing before the delay: the timelock refuses (operation not ready).
  await reverts(t, governor.execute(targets, values, calldatas, descriptionHash), 'TimelockUnexpectedOperationState')
  t.deepEqual([...await params.feeSplit()], [7800n, 1200n, 1000n])

  await increaseTime(tc.provider, DELAY - 60)
  await reverts(t, governor.execute(targets, values, calldatas, descriptionHash), 'TimelockUnexpectedOperationState')
  await increaseTime(tc.provider, 61)
  const receipt = await mined(governor.execute(targets, values, calldatas, descriptionHash, GAS))
  t.log(`gas: governor.execute(setFeeSplit) = ${receipt.gasUsed}`)
  t.is(Number(await governor.state(proposalId)), State.Executed)
  t.deepEqual([...await params.feeSplit()], [7000n, 2000n, 1000n])
  await reverts(t, governor.execute(targets, values, calldatas, descriptionHash), 'GovernorUnexpectedProposalState')
})

test.serial('a proposal that fails its bounds check passes the vote but reverts on execution', async (t) => {
  const targets = [addrs.params]
  const values = [0n]
  const calldatas = [params.interface.encodeFunctionData('setFeeSplit', [7000, 2000, 999])]
  const description = 'Broken fee split'
  const descriptionHash = id(description)
  const proposalId = await governor.hashProposal(targets, values, calldatas, descriptionHash) as bigint
  await mined(governor.propose(targets, values, calldatas, description, GAS))
  await mine(tc.provider, VOTING_DELAY + 1)
  await mined(governor.castVote(proposalId, 1, GAS))
  await mine(tc.provider, VOTING_PERIOD + 1)
  await mined(governor.queue(targets, values, calldatas, descriptionHash, GAS))
  await increaseTime(tc.provider, DELAY + 1)
  await reverts(t, governor.execute(targets, values, calldatas, descriptionHash), 'FeeSplitInvalid')
  t.deepEqual([...await params.feeSplit()], [7000n, 2000n, 1000n])
})

test.serial('a proposal without quorum is defeated', async (t) => {
  // Account 1 holds 1% of the supply; quorum is 4%.
  const targets = [addrs.params]
  const values = [0n]
  const calldatas = [params.interface.encodeFunctionData('setQuorumSize', [5])]
  const description = 'Quorum of five'
  const proposalId = await governor.hashProposal(targets, values, calldatas, id(description)) as bigint
  await mined(governor.connect(tc.wallet(1)).getFunction('propose')(targets, values, calldatas, description, GAS))
  await mine(tc.provider, VOTING_DELAY + 1)
  await mined(governor.connect(tc.wallet(1)).getFunction('castVote')(proposalId, 1, GAS))
  await mine(tc.provider, VOTING_PERIOD + 1)
  t.is(Number(await governor.state(proposalId)), State.Defeated)
  await reverts(t, governor.queue(targets, values, calldatas, id(description)), 'GovernorUnexpectedProposalState')
  t.is(await params.quorumSize(), 3n)
})
