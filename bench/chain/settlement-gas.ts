// Gas of BatchSettlement.settleBatch against batch size, and the amortised gas per
// inference, with the real QuorumRegistry checking a real BLS signature (a stub node
// registry supplies the validators, as in quorum-gas.ts; verifyQuorum never calls it).
//
// A batch's cost depends on its distinct clients (one debit and one refund slot each),
// the quorum's non-signers and the signature, never on its receipts: they stay behind
// the receipts root. So rows differ by receipts only through calldata-free counters and
// the roots; the per-inference figure falls as 1/receipts. Measured in the steady state:
// after one warm-up batch (the first batch of a contract also pays nextBatchId's first
// write) and with every client's deposit already non-zero.
import { Contract, ContractFactory, getAddress, keccak256, toUtf8Bytes, Wallet, type InterfaceAbi, type JsonRpcProvider } from 'ethers'

import { buildBatch, type BatchReceipt, type Batch } from '../../runtime/chain/batch.js'
import { loadArtifact } from '../../runtime/chain/contracts.js'
import { startEmbeddedChain } from '../../runtime/chain/embedded-chain.js'
import { connectProvider } from '../../runtime/chain/provider.js'
import type { BlsKeyPair } from '../../runtime/crypto/bls.js'
import { deployQuorumFixture, makeValidator, quorumAttestation } from './quorum-gas.js'

export interface SettlementGasOptions {
  /** Receipts per batch (default 1, 16, 256, 1024, 4096). */
  batchSizes?: number[]
  /** Distinct clients per batch, at most the batch size (default 16). */
  clients?: number
  /** Validators in the epoch's quorum (default 16). */
  quorumSize?: number
  /** Quorum members that do not sign (default 1). */
  nonSigners?: number
  /** An existing chain (url + a funded key) that supports evm_increaseTime; without it an embedded chain is started and stopped. */
  chain?: { url: string, chainId: number, privateKey: string }
  log?: (m: string) => void
}

export interface SettlementGasRow {
  batchSize: number
  /** Distinct clients (debits) in the batch. */
  clients: number
  quorumSize: number
  nonSigners: number
  /** gasUsed of the settleBatch transaction (intrinsic gas and calldata included). */
  gas: number
  gasPerInference: number
  /** Calldata bytes of the settleBatch transaction. */
  calldataBytes: number
  /** Gas of one payout claim (Merkle proof over this batch's payouts, token transfer), batch already final. */
  claimGas: number
  /** Gas of the first claim of the batch, which also finalises it and pays the treasury. */
  firstClaimGas: number
  note: string
}

async function deploy (abi: InterfaceAbi, bytecode: string, signer: Wallet, ...args: unknown[]): Promise<Contract> {
  const c = await new ContractFactory(abi, bytecode, signer).deploy(...args)
  await c.waitForDeployment()
  return new Contract(await c.getAddress(), abi, signer)
}

const addressOf = (label: string): string => getAddress('0x' + keccak256(toUtf8Bytes(label)).slice(26))

export async function measureSettlementGas (opts: SettlementGasOptions = {}): Promise<SettlementGasRow[]> {
  const sizes = opts.batchSizes ?? [1, 16, 256, 1024, 4096]
  const nClients = opts.clients ?? 16
  const quorumSize = opts.quorumSize ?? 16
  const nonSigners = Math.min(opts.nonSigners ?? 1, Math.floor(quorumSize / 3))
  const log = opts.log ?? (() => {})
  const embedded = opts.chain === undefined ? await startEmbeddedChain({ accounts: 1 }) : undefined
  const url = opts.chain?.url ?? embedded?.url ?? ''
  const chainId = opts.chain?.chainId ?? embedded?.chainId ?? 0
  const key = opts.chain?.privateKey ?? embedded?.accounts[0]?.privateKey ?? ''
  const provider: JsonRpcProvider = connectProvider(url, { chainId })
  const rows: SettlementGasRow[] = []
  try {
    const signer = new Wallet(key, provider)
    const tokenArt = loadArtifact('VerimeshToken')
    const paramsArt = loadArtifact('ProtocolParams')
    const settlementArt = loadArtifact('BatchSettlement')
    const token = await deploy(tokenArt.abi, tokenArt.bytecode, signer, 'Verimesh', 'VMSH', signer.address, 10n ** 30n)
    const treasury = addressOf('settlement gas treasury')
    const params = await deploy(paramsArt.abi, paramsArt.bytecode, signer, signer.address, treasury)
    const validators = Array.from({ length: quorumSize }, (_, i) => makeValidator(`settlement gas q${quorumSize}`, i, 10n ** 18n))
    const f = await deployQuorumFixture(signer, validators, quorumSize)
    const epoch = 1n
    await (await f.registry.getFunction('setEpoch')(epoch)).wait()
    await (await f.quorum.getFunction('commitQuorum')(epoch)).wait()
    const memberAddrs = (await f.quorum.getFunction('membersOf')(epoch) as string[]).map((a) => getAddress(a))
    const byAddr = new Map(validators.map((v) => [v.address, v.keys]))
    const members = memberAddrs.map((a) => byAddr.get(a) as BlsKeyPair)
    const settlement = await deploy(settlementArt.abi, settlementArt.bytecode, signer,
      await token.getAddress(), await params.getAddress(), await f.quorum.getAddress(), await f.registry.getAddress(), signer.address)
    const settlementAddr = await settlement.getAddress()
    const [operatorBps, validatorBps, treasuryBps] = (await params.getFunction('feeSplit')() as bigint[]).map(Number) as [number, number, number]
    const window = await params.getFunction('challengeWindow')() as bigint

    const clients = Array.from({ length: nClients }, (_, i) => addressOf(`settlement gas client ${i}`))
    const operators = Array.from({ length: 8 }, (_, i) => addressOf(`settlement gas operator ${i}`))
    await (await token.getFunction('approve')(settlementAddr, 2n ** 255n)).wait()
    for (const c of clients) await (await settlement.getFunction('depositFor')(c, 10n ** 24n)).wait()

    let seq = 0
    const receiptsFor = (n: number): BatchReceipt[] => Array.from({ length: n }, (_, i) => {
      const id = ++seq
      const h = (tag: string): string => keccak256(toUtf8Bytes(`settlement gas ${tag} ${id}`))
      const ops = [operators[i % operators.length]!, operators[(i + 3) % operators.length]!]
      return {
        requestId: h('request'),
        modelRoot: keccak256(toUtf8Bytes('settlement gas model')),
        client: clients[i % clients.length]!,
        executor: ops[0]!,
        fee: 10n ** 15n + BigInt(i),
        outputHash: h('output'),
        traceRoot: h('trace'),
        steps: 32,
        proofStatement: 0n,
        operators: ops,
        validators: [memberAddrs[i % memberAddrs.length]!, memberAddrs[(i + 1) % memberAddrs.length]!]
      }
    })
    const settle = async (n: number): Promise<{ b: Batch, gas: number, bytes: number }> => {
      const b = buildBatch({
        batchId: await settlement.getFunction('nextBatchId')() as bigint,
        epoch,
        chainId: BigInt(chainId),
        settlement: settlementAddr,
        receipts: receiptsFor(n),
        split: { operatorBps, validatorBps, treasuryBps }
      })
      const att = quorumAttestation(members, new Set(Array.from({ length: nonSigners }, (_, i) => i)), b.digest)
      const tx = await settlement.getFunction('settleBatch')(
        [b.header.epoch, b.header.receiptsRoot, b.header.receiptCount, b.header.payoutsRoot],
        b.debits.map((d) => [d.client, d.amount]),
        [att.nonSignerPks, att.apkG2, att.sigma]
      )
      const r = await tx.wait()
      return { b, gas: Number(r?.gasUsed ?? 0n), bytes: (tx.data.length - 2) / 2 }
    }

    await settle(1) // warm-up
    const settled: Array<{ n: number, b: Batch, gas: number, bytes: number }> = []
    for (const n of sizes) {
      const { b, gas, bytes } = await settle(n)
      settled.push({ n, b, gas, bytes })
      log(`settlement: ${n} receipts, ${b.debits.length} clients, ${gas} gas, ${(gas / n).toFixed(1)} gas/inference`)
    }

    // Claims: past the challenge window; the first claim of a batch also finalises it.
    await provider.send('evm_increaseTime', [Number(window) + 60])
    await provider.send('hardhat_mine', ['0x1'])
    for (const s of settled) {
      const claimGas: number[] = []
      for (const p of s.b.payouts.slice(0, 2)) {
        const r = await (await settlement.getFunction('claim')(s.b.batchId, p.account, p.kind, p.amount, s.b.payoutProof(p.account, p.kind))).wait()
        claimGas.push(Number(r?.gasUsed ?? 0n))
      }
      rows.push({
        batchSize: s.n,
        clients: s.b.debits.length,
        quorumSize,
        nonSigners,
        gas: s.gas,
        gasPerInference: s.gas / s.n,
        calldataBytes: s.bytes,
        claimGas: claimGas[1] ?? claimGas[0] ?? 0,
        firstClaimGas: claimGas[0] ?? 0,
        note: `${s.b.debits.length} clients, quorum ${quorumSize} with ${nonSigners} non-signer(s); claim ${claimGas[1] ?? '-'} gas (${s.b.payouts.length} payouts), first claim with finalisation ${claimGas[0] ?? '-'} gas`
      })
    }
  } finally {
    provider.destroy()
    await embedded?.stop()
  }
  return rows
}
