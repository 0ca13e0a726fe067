// A seeded random sequence against BatchSettlement (deposits, withdrawal requests and
// withdrawals, batches of random receipts with random signers, claims, freezes, voids,
// time jumps), each action's outcome predicted by a model — success or the exact custom
// error — and after every step: the contract's token balance equals the sum of deposits
// (withdrawal requests stay inside deposits until taken), of unclaimed pools and of
// unpaid treasury shares; every deposit and pool equals the model's; the token supply
// is unchanged and fully accounted for by the accounts involved.
//
// VERIMESH_FUZZ_SEED picks another sequence; VERIMESH_FUZZ_STEPS another length.
import test from 'ava'
import { Contract, type Wallet } from 'ethers'

import { seededRandom } from '../circuits/samples.js'
import type { Batch } from '../runtime/chain/batch.js'
import { PayoutKind } from '../runtime/chain/merkle.js'
import { build, debitsArg, headerArg, mined, quorumSig, receipt, revertName, settlementEnv, sigArg, SUPPLY, timeTravel, type SettlementEnv } from './settlement-fixture.js'

const SEED = Number(process.env.VERIMESH_FUZZ_SEED ?? 20261122)
const STEPS = Number(process.env.VERIMESH_FUZZ_STEPS ?? 60)

type Status = 'Pending' | 'Frozen' | 'Final' | 'Voided'
interface ModelBatch { b: Batch, status: Status, open: number, deadline: bigint, op: bigint, val: bigint, tre: bigint, claimed: Set<number> }

let env: SettlementEnv

test.after.always(async () => { await env?.stop() })

test('random sequences conserve value and match the model', async (t) => {
  t.timeout(10 * 60_000)
  const t0 = Date.now()
  env = await settlementEnv({ accounts: 16, nValidators: 5, stakes: [300n, 200n, 200n, 150n, 150n] })
  const rand = seededRandom(SEED)
  const int = (n: number): number => Math.floor(rand() * n)
  const pick = <T> (xs: readonly T[]): T => xs[int(xs.length)]!
  const s = env.settlement
  const settlementAddr = await s.getAddress()
  const clients = env.wallets.slice(1, 6)
  const ops = env.wallets.slice(6, 10).map((w) => w.address)
  const vals = env.wallets.slice(10, 13).map((w) => w.address)
  const disputes = env.wallets[13]!
  const holders = [env.owner.address, ...env.wallets.slice(1, 14).map((w) => w.address), env.treasury, settlementAddr]
  await mined(s.getFunction('setDisputes')(disputes.address))
  for (const c of clients) {
    await mined(env.token.getFunction('transfer')(c.address, 10n ** 12n))
    await mined((env.token.connect(c) as Contract).getFunction('approve')(settlementAddr, 2n ** 255n))
  }

  // Opening deposits, so most random batches can be paid; later deposits top them up.
  const deposits = new Map<string, bigint>(clients.map((c) => [c.address, 100_000n]))
  for (const c of clients) await mined((s.connect(c) as Contract).getFunction('deposit')(100_000n))
  const withdrawals = new Map<string, { amount: bigint, unlockAt: bigint }>()
  const batches: ModelBatch[] = []
  const as = (w: Wallet): Contract => s.connect(w) as Contract
  const head = async (): Promise<bigint> => BigInt((await env.provider.getBlock('latest'))!.timestamp)
  const bal = async (a: string): Promise<bigint> => await env.token.getFunction('balanceOf')(a) as bigint
  const counts = new Map<string, number>()

  /** Run `op`; it must succeed when `expected` is undefined, else revert with that error. */
  const expect = async (what: string, expected: string | undefined, op: () => Promise<unknown>): Promise<boolean> => {
    const key = `${what}:${expected ?? 'ok'}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    try {
      const r = await op()
      if (r !== null && typeof r === 'object' && 'wait' in r) await (r as { wait: () => Promise<unknown> }).wait()
    } catch (err) {
      t.is(revertName(env, err), expected, `${what}: ${String((err as Error).message).slice(0, 200)}`)
      return false
    }
    t.is<string | undefined, string | undefined>(expected, undefined, `${what} succeeded; the model expected ${expected ?? ''}`)
    return true
  }

  const claimPayout = async (mb: ModelBatch, index: number): Promise<void> => {
    const p = mb.b.payouts[index]!
    const now = await head()
    const expected = mb.status === 'Frozen'
      ? 'BatchIsFrozen'
      : mb.status === 'Voided'
        ? 'BatchIsVoided'
        : mb.status === 'Pending' && now <= mb.deadline
          ? 'ChallengeWindowOpen'
          : mb.claimed.has(index) ? 'AlreadyClaimed' : undefined
    const claimer = pick(env.wallets.slice(1, 14))
    const before = await bal(p.account)
    if (await expect('claim', expected, () => as(claimer).getFunction('claim')(mb.b.batchId, p.account, p.kind, p.amount, mb.b.payoutProof(p.account, p.kind)))) {
      if (mb.status === 'Pending') { mb.status = 'Final'; mb.tre = 0n }
      mb.claimed.add(index)
      if (p.kind === PayoutKind.OPERATOR) mb.op -= p.amount
      else mb.val -= p.amount
      // The treasury could be the account only by accident; it is a fresh random address.
      t.is(await bal(p.account) - before, p.amount)
    }
  }

  const actions: Array<[number, () => Promise<void>]> = [
    [4, async () => {
      const c = pick(clients)
      const amount = BigInt(1 + int(30_000))
      if (await expect('deposit', undefined, () => as(c).getFunction('deposit')(amount))) deposits.set(c.address, deposits.get(c.address)! + amount)
    }],
    [2, async () => {
      const c = pick(clients)
      const amount = BigInt(int(40_000))
      if (await expect('requestWithdrawal', undefined, () => as(c).getFunction('requestWithdrawal')(amount))) {
        withdrawals.set(c.address, { amount, unlockAt: await head() + 86_400n })
      }
    }],
    [2, async () => {
      const c = pick(clients)
      const w = withdrawals.get(c.address)
      const now = await head()
      const expected = w === undefined || w.amount === 0n ? 'NoWithdrawalRequested' : now < w.unlockAt ? 'WithdrawalLocked' : undefined
      const before = await bal(c.address)
      if (await expect('withdraw', expected, () => as(c).getFunction('withdraw')())) {
        const have = deposits.get(c.address)!
        const amount = w!.amount < have ? w!.amount : have
        deposits.set(c.address, have - amount)
        withdrawals.delete(c.address)
        t.is(await bal(c.address) - before, amount)
      }
    }],
    [7, async () => {
      const n = 1 + int(12)
      const receipts = Array.from({ length: n }, () => {
        const o = [...new Set(Array.from({ length: 1 + int(3) }, () => pick(ops)))]
        const v = [...new Set(Array.from({ length: 1 + int(3) }, () => pick(vals)))]
        return receipt(pick(clients).address, BigInt(int(4) === 0 ? 0 : int(3_000)), o, v)
      })
      const b = await build(env, receipts)
      // Signers: usually everyone or all but one; sometimes too few (stakes 300/200/200/150/150).
      const signers = [0, 1, 2, 3, 4].filter(() => rand() < 0.85)
      const signed = signers.reduce((x, i) => x + env.stakes[i]!, 0n)
      const short = b.debits.find((d) => deposits.get(d.client)! < d.amount)
      const expected = signers.length === 0 || 3n * signed < 2n * 1000n ? 'InsufficientStake' : short !== undefined ? 'InsufficientDeposit' : undefined
      const sig = signers.length === 0 ? quorumSig(env, b.digest, [0]) : quorumSig(env, b.digest, signers)
      // No signer at all: sign with one key but claim nobody signed, so the stake check fails first.
      const sigArgs = signers.length === 0 ? { ...sig, nonSignerPks: quorumSig(env, b.digest, []).nonSignerPks } : sig
      if (await expect('settleBatch', expected, () => s.getFunction('settleBatch')(headerArg(b), debitsArg(b), sigArg(sigArgs)))) {
        for (const d of b.debits) deposits.set(d.client, deposits.get(d.client)! - d.amount)
        const info = await s.getFunction('batchInfo')(b.batchId) as [string, bigint, bigint, bigint, bigint]
        batches.push({ b, status: 'Pending', open: 0, deadline: info[3], op: b.pools.operatorPool, val: b.pools.validatorPool, tre: b.pools.treasuryShare, claimed: new Set() })
      }
    }],
    [5, async () => {
      const withPayouts = batches.filter((mb) => mb.b.payouts.length > 0)
      if (withPayouts.length === 0) return
      const mb = pick(withPayouts)
      await claimPayout(mb, int(mb.b.payouts.length))
    }],
    [2, async () => {
      if (batches.length === 0) return
      const mb = pick(batches)
      const expected = mb.status === 'Pending' || mb.status === 'Frozen' ? undefined : 'BatchNotOpen'
      if (await expect('freezeBatch', expected, () => as(disputes).getFunction('freezeBatch')(mb.b.batchId))) { mb.status = 'Frozen'; mb.open++ }
    }],
    [2, async () => {
      const frozen = batches.filter((mb) => mb.status === 'Frozen')
      if (frozen.length === 0) return
      const mb = pick(frozen)
      if (await expect('unfreezeBatch', undefined, () => as(disputes).getFunction('unfreezeBatch')(mb.b.batchId))) {
        mb.open--
        if (mb.open === 0) mb.status = 'Pending'
      }
    }],
    [1, async () => {
      if (batches.length === 0) return
      const mb = pick(batches)
      const expected = mb.status === 'Final' ? 'BatchNotOpen' : undefined
      if (await expect('voidBatch', expected, () => as(disputes).getFunction('voidBatch')(mb.b.batchId)) && mb.status !== 'Voided') {
        for (const d of mb.b.debits) deposits.set(d.client, deposits.get(d.client)! + d.amount)
        mb.status = 'Voided'
        mb.open = 0
        mb.op = mb.val = mb.tre = 0n
      }
    }],
    [3, async () => { await timeTravel(env, pick([60, 1800, 3601, 7200, 86_401, 86_401])) }]
  ]
  const weightTotal = actions.reduce((x, [w]) => x + w, 0)
  const next = (): (() => Promise<void>) => {
    let r = int(weightTotal)
    for (const [w, a] of actions) { if (r < w) return a; r -= w }
    return actions[0]![1]
  }

  const check = async (step: number): Promise<void> => {
    const pools = batches.reduce((x, mb) => x + mb.op + mb.val + mb.tre, 0n)
    const deposited = [...deposits.values()].reduce((x, y) => x + y, 0n)
    const [held, onChainDeposits, onChainPools, supply] = await Promise.all([
      bal(settlementAddr),
      Promise.all(clients.map(async (c) => await s.getFunction('depositOf')(c.address) as bigint)),
      Promise.all(batches.map(async (mb) => [...await s.getFunction('poolsOf')(mb.b.batchId) as bigint[]].slice(0, 3))),
      env.token.getFunction('totalSupply')() as Promise<bigint>
    ])
    t.is(held, deposited + pools, `step ${step}: settlement balance`)
    t.deepEqual(onChainDeposits, clients.map((c) => deposits.get(c.address)), `step ${step}: deposits`)
    t.deepEqual(onChainPools, batches.map((mb) => [mb.op, mb.val, mb.tre]), `step ${step}: pools`)
    t.is(supply, SUPPLY, `step ${step}: total supply`)
    const all = await Promise.all(holders.map(bal))
    t.is(all.reduce((x, y) => x + y, 0n), SUPPLY, `step ${step}: supply accounted for by the accounts involved`)
  }

  const t1 = Date.now()
  for (let step = 0; step < STEPS; step++) {
    await next()()
    await check(step)
  }
  const t2 = Date.now()
  // Drain: close every window, lift every freeze, claim everything still claimable.
  await timeTravel(env, 3601)
  for (const mb of batches) {
    while (mb.status === 'Frozen') {
      await mined(as(disputes).getFunction('unfreezeBatch')(mb.b.batchId))
      if (--mb.open === 0) mb.status = 'Pending'
    }
    for (let i = 0; i < mb.b.payouts.length; i++) if (mb.status !== 'Voided' && !mb.claimed.has(i)) await claimPayout(mb, i)
    if (mb.status === 'Pending') {
      await mined(s.getFunction('finalize')(mb.b.batchId))
      mb.status = 'Final'
      mb.tre = 0n
    }
  }
  await check(STEPS)
  // Every pool paid out to the unit: the contract holds exactly the deposits.
  t.true(batches.every((mb) => mb.op === 0n && mb.val === 0n && mb.tre === 0n))
  t.log(`setup ${t1 - t0} ms, steps ${t2 - t1} ms, drain ${Date.now() - t2} ms`)
  t.log(`seed ${SEED}, ${STEPS} steps, ${batches.length} batches; outcomes: ${[...counts].sort().map(([k, v]) => `${k}=${v}`).join(' ')}`)
})
