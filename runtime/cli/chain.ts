// `verimesh chain ...`: the protocol contracts from the command line, against any
// JSON-RPC endpoint: deploy them, register and stake a node from its config, read an
// operator's standing, and move a client's deposit. Every transaction goes through
// TxSender, so a revert reports its decoded custom error. Progress goes to stderr,
// results to stdout (JSON with --json).

import { writeFile, readFile } from 'node:fs/promises'
import path from 'node:path'
import { encodeBase58, formatUnits, getAddress, getBytes, hexlify, isAddress, parseUnits, Wallet, type JsonRpcProvider } from 'ethers'
import { peerIdFromString } from '@libp2p/peer-id'
import { VerimeshError } from '../errors.js'
import { loadConfig, type NodeConfig } from '../node/config.js'
import { peerIdOfSeed } from '../net/libp2p.js'
import { nodeBlsKey } from '../crypto/bls.js'
import { connectProvider } from '../chain/provider.js'
import { deployProtocol } from '../chain/deploy.js'
import { deployCircuitVerifiers, verifierDeployOptions, type CircuitVerifiers } from '../chain/deploy-verifiers.js'
import { registerOperator, ROLE_BITS } from '../chain/operator.js'
import { parseFlags, runCommandGroup, str, UsageError, type FlagSpec, type FlagValues } from './subcommands.js'
import { TxSender, type TxEvent } from '../chain/tx-sender.js'
import { connectBatchSettlement, connectNodeRegistry, connectProtocolParams, connectQuorumRegistry, connectVerimeshToken } from '../chain/types/index.js'

const CHAIN_USAGE = `verimesh chain <command> ...   the protocol contracts on any JSON-RPC endpoint

Commands:
  deploy          deploy the protocol; prints the chain.contracts a node config needs
  register        register a node from its config and bond its stake
  status          an operator's registration, stake, validator status, epoch quorum; parameters
  unbond          start unbonding part of a node's stake
  withdraw-stake  take unbonded stake once the unbonding delay passed
  deposit         approve and deposit tokens a client pays fees from
  withdraw        request a deposit withdrawal, or take it after the delay
  balance         an account's tokens, deposit and pending withdrawal

Amounts are whole tokens (18 decimals, e.g. 1000 or 0.5) unless they end in 'wei'.
A key is 32 bytes hex; --key may be left out when VERIMESH_KEY holds it.
Run 'verimesh chain <command> --help' for its options.
Exit codes: 0 ok, 1 runtime failure (reverts name their custom error), 2 usage error.
`

const CONNECTION = `  --rpc URL         JSON-RPC endpoint
  --contracts FILE  the addresses: the chain.contracts object (what deploy prints), or a
                    node config whose chain section names them`

const HELP: Record<string, string> = {
  deploy: `verimesh chain deploy --rpc URL --key HEX [--governance timelock|deployer] [--circuits DIR] [--treasury ADDR] [--out FILE] [--json]

Deploys token, timelock, governor, ProtocolParams, NodeRegistry, ModelRegistry,
QuorumRegistry and BatchSettlement from the key's account (which receives the whole
token supply), and with --circuits the receipt and tile_4x16 Groth16 verifiers and
Disputes. Prints the chain.contracts object of a node config (docs/configuration.md).

Options:
  --rpc URL           JSON-RPC endpoint
  --key HEX           deployer's private key (or VERIMESH_KEY)
  --governance MODE   timelock (default): parameters and registries owned by the timelock,
                      changed only by governor votes; deployer: kept by the deployer (devnets)
  --circuits DIR      a circuits build (circuits/build after \`npm run circuits:build\`)
  --treasury ADDR     receives treasury shares (default the timelock, or the deployer)
  --out FILE          also write the contracts object to FILE
  --json              print everything deployed (timelock, governor, verifiers) as JSON
`,
  register: `verimesh chain register --config NODE.json --stake AMOUNT [--peer-id ID] [--json]

Registers the node a config describes, signed by its operatorKey: its libp2p peer id
(derived from identitySeed as the node derives it), its roles, its BLS key (chain.blsKey
or derived from operatorKey, as the quorum role does) with a proof of possession; then
approves and bonds AMOUNT of the operator's tokens.

Options:
  --config FILE     node configuration with a chain section (required)
  --stake AMOUNT    stake to bond; 0 registers only (required)
  --peer-id ID      the node's peer id, for a config without identitySeed
  --json            print the result as JSON
`,
  status: `verimesh chain status --config NODE.json [--json]
verimesh chain status --rpc URL --contracts FILE --address ADDR [--json]

An operator's registration (peer id, roles, BLS key), bonded and unbonding stake,
whether it is an active validator, the current epoch, whether the epoch's quorum is
committed and whether the operator is in it; and the protocol parameters.

Options:
  --config FILE     node configuration (operator from operatorKey, contracts from chain)
${CONNECTION}
  --address ADDR    operator address
  --json            print as JSON
`,
  unbond: `verimesh chain unbond --config NODE.json --amount AMOUNT [--json]

Starts unbonding AMOUNT of the node's bonded stake (NodeRegistry.requestUnbond). It stays
slashable until withdrawn with withdraw-stake after the unbonding delay.

Options:
  --config FILE     node configuration (required)
  --amount AMOUNT   stake to unbond (required)
  --json            print the result as JSON
`,
  'withdraw-stake': `verimesh chain withdraw-stake --config NODE.json [--json]

Withdraws the node's unbonding stake once its unlock time passed (NodeRegistry.withdraw).

Options:
  --config FILE     node configuration (required)
  --json            print the result as JSON
`,
  deposit: `verimesh chain deposit --rpc URL --contracts FILE --key HEX --amount AMOUNT [--json]

Approves BatchSettlement and deposits AMOUNT of the key's tokens, which batches debit fees from.

Options:
${CONNECTION}
  --key HEX         client's private key (or VERIMESH_KEY)
  --amount AMOUNT   tokens to deposit (required)
  --json            print the result as JSON
`,
  withdraw: `verimesh chain withdraw --rpc URL --contracts FILE --key HEX (--request AMOUNT | --execute) [--json]

A deposit leaves in two steps: --request announces AMOUNT (0 cancels; a new request
replaces the last and restarts the delay), --execute takes it after the withdrawal delay.

Options:
${CONNECTION}
  --key HEX         client's private key (or VERIMESH_KEY)
  --request AMOUNT  request a withdrawal of AMOUNT
  --execute         withdraw what was requested
  --json            print the result as JSON
`,
  balance: `verimesh chain balance --rpc URL --contracts FILE --address ADDR [--json]

An account's token balance, its BatchSettlement deposit and its pending withdrawal.

Options:
${CONNECTION}
  --address ADDR    account (or --key HEX for the key's own)
  --json            print as JSON
`
}


type Values = FlagValues

const S = { type: 'string' } as const
const B = { type: 'boolean' } as const

function parse (cmd: string, args: string[], options: FlagSpec): Values | undefined {
  return parseFlags(HELP[cmd]!, args, options)?.values
}

/** Whole tokens (18 decimals) unless the text ends in 'wei'. */
export function parseAmount (text: string, flag: string): bigint {
  const wei = /^(\d{1,78})\s*wei$/.exec(text)
  if (wei !== null) return BigInt(wei[1]!)
  if (!/^\d{1,60}(\.\d{1,18})?$/.test(text)) throw new UsageError(`--${flag} expects whole tokens (e.g. 1000 or 0.5) or wei (e.g. 5000wei), got '${text}'`)
  return parseUnits(text, 18)
}

function tokens (wei: bigint): string {
  return `${formatUnits(wei, 18)} tokens`
}

function privateKey (v: Values): string {
  const key = str(v, 'key') ?? process.env.VERIMESH_KEY
  if (key === undefined) throw new UsageError('--key is required (or set VERIMESH_KEY)')
  const hex = key.startsWith('0x') ? key : `0x${key}`
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new UsageError('--key expects a 32-byte private key in hex')
  return hex
}

function address (text: string, flag: string): string {
  if (!isAddress(text)) {
    const why = /^0x[0-9a-fA-F]{40}$/.test(text) ? ' (its mixed-case checksum is wrong; all lower case skips the check)' : ''
    throw new UsageError(`--${flag} expects an address, got '${text}'${why}`)
  }
  return getAddress(text)
}

interface Contracts {
  settlement: string
  quorumRegistry: string
  nodeRegistry: string
  params: string
  token?: string
  modelRegistry?: string
  disputes?: string
}

/** A connection to a deployment: provider, addresses and, for config-based commands, the node config. */
interface Deployment {
  provider: JsonRpcProvider
  chainId: bigint
  contracts: Contracts
  config?: NodeConfig
}

const REQUIRED_CONTRACTS = ['settlement', 'quorumRegistry', 'nodeRegistry', 'params'] as const

function checkContracts (raw: unknown, source: string): Contracts {
  const o = raw as Record<string, unknown> | null
  // What deploy prints, a { contracts } wrapper, or a whole node config.
  const c = (o?.chain as Record<string, unknown> | undefined)?.contracts ?? o?.contracts ?? o
  if (c === null || typeof c !== 'object') throw new UsageError(`${source} holds no contract addresses`)
  const out: Record<string, string> = {}
  for (const [k, a] of Object.entries(c as Record<string, unknown>)) {
    if (typeof a === 'string' && isAddress(a)) out[k] = getAddress(a)
  }
  const missing = REQUIRED_CONTRACTS.filter((k) => out[k] === undefined)
  if (missing.length > 0) throw new UsageError(`${source} lacks the address of ${missing.join(', ')}`)
  return out as unknown as Contracts
}

async function readContracts (file: string): Promise<Contracts> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`)
  }
  try {
    return checkContracts(JSON.parse(text), file)
  } catch (err) {
    if (err instanceof UsageError) throw err
    throw new UsageError(`${file} is not valid JSON: ${(err as Error).message}`)
  }
}

async function nodeConfig (file: string): Promise<NodeConfig & { chain: NonNullable<NodeConfig['chain']> }> {
  let config: NodeConfig
  try {
    config = await loadConfig(file)
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (config.chain === null) throw new UsageError(`${file} has no chain section: it names no deployment`)
  return config as NodeConfig & { chain: NonNullable<NodeConfig['chain']> }
}

async function connect (rpc: string, chainId?: number): Promise<{ provider: JsonRpcProvider, chainId: bigint }> {
  const provider = connectProvider(rpc, chainId === undefined ? {} : { chainId })
  try {
    const network = await provider.getNetwork()
    if (chainId !== undefined) {
      // A configured chain id is not checked by ethers (static network): ask the node.
      const actual = BigInt(await provider.send('eth_chainId', []) as string)
      if (actual !== BigInt(chainId)) throw new VerimeshError('CONFIG_INVALID', `${rpc} serves chain ${actual}, the config says ${chainId}`, { rpc, expected: chainId, actual: Number(actual) })
    }
    return { provider, chainId: network.chainId }
  } catch (err) {
    provider.destroy()
    throw VerimeshError.from(err, 'CHAIN_ERROR', { rpc })
  }
}

/** From --config, or from --rpc and --contracts. */
async function deployment (v: Values, configOnly = false): Promise<Deployment> {
  const file = str(v, 'config')
  if (file !== undefined) {
    if (v.rpc !== undefined || v.contracts !== undefined) throw new UsageError('give either --config or --rpc with --contracts, not both')
    const config = await nodeConfig(file)
    const { provider, chainId } = await connect(config.chain.rpcUrl, config.chain.chainId)
    return { provider, chainId, contracts: checkContracts(config.chain.contracts, file), config }
  }
  if (configOnly) throw new UsageError('--config is required')
  const rpc = str(v, 'rpc')
  const contractsFile = str(v, 'contracts')
  if (rpc === undefined || contractsFile === undefined) throw new UsageError('give --config, or --rpc and --contracts')
  const contracts = await readContracts(contractsFile)
  return { ...await connect(rpc), contracts }
}

/** Progress of each transaction on stderr. */
function progressEvents (e: TxEvent): void {
  if (e.type === 'submitted') process.stderr.write(`  ${e.label}: sent ${e.txHash}${e.replacement > 0 ? ` (re-send ${e.replacement})` : ''}\n`)
  else if (e.type === 'confirmed') process.stderr.write(`  ${e.label}: mined in block ${e.blockNumber}\n`)
  else if (e.type === 'retry') process.stderr.write(`  ${e.label}: ${e.stage} failed (${e.error}), retry ${e.attempt} in ${e.delayMs} ms\n`)
}

async function senderFor (wallet: Wallet): Promise<TxSender> {
  return await TxSender.create(wallet, { pollIntervalMs: 100, onEvent: progressEvents })
}

async function tokenOf (d: Deployment): Promise<string> {
  return d.contracts.token ?? await connectNodeRegistry(d.contracts.nodeRegistry, d.provider).token()
}

function print (v: Values, json: unknown, lines: string[]): void {
  process.stdout.write(v.json === true ? JSON.stringify(json, (_, x: unknown) => typeof x === 'bigint' ? x.toString() : x, 2) + '\n' : lines.join('\n') + '\n')
}

function when (unix: bigint): string {
  return unix === 0n ? '-' : new Date(Number(unix) * 1000).toISOString()
}

/** The peer id the node runs with: derived from identitySeed exactly as the node's libp2p host does. */
async function peerIdOf (config: NodeConfig, override: string | undefined): Promise<string> {
  if (override !== undefined) {
    try {
      return peerIdFromString(override).toString()
    } catch {
      throw new UsageError(`--peer-id '${override}' is not a libp2p peer id`)
    }
  }
  if (config.identitySeed === undefined) throw new UsageError('the config has no identitySeed, so its node gets a fresh peer id on every start: add one, or pass --peer-id')
  return await peerIdOfSeed(config.identitySeed)
}

function rolesOf (mask: bigint): string[] {
  return Object.entries(ROLE_BITS).filter(([, bit]) => (mask & BigInt(bit)) !== 0n).map(([name]) => name)
}

// ---- commands -------------------------------------------------------------------------

async function deployCommand (args: string[]): Promise<number> {
  const v = parse('deploy', args, { rpc: S, key: S, governance: S, circuits: S, treasury: S, out: S, json: B })
  if (v === undefined) return 0
  const rpc = str(v, 'rpc', true)
  const key = privateKey(v)
  const governance = str(v, 'governance') ?? 'timelock'
  if (governance !== 'timelock' && governance !== 'deployer') throw new UsageError(`--governance must be timelock or deployer, got '${governance}'`)
  const treasury = str(v, 'treasury')
  const circuits = str(v, 'circuits')
  const { provider, chainId } = await connect(rpc)
  try {
    const wallet = new Wallet(key, provider)
    process.stderr.write(`deploying the protocol from ${wallet.address} on chain ${chainId} (governance: ${governance})\n`)
    const verifiers: CircuitVerifiers = circuits === undefined
      ? {}
      : await deployCircuitVerifiers(wallet, path.resolve(circuits), { required: true, onProgress: (m) => process.stderr.write(`  ${m}\n`) })
    const addresses = await deployProtocol(wallet, {
      governance,
      ...(treasury === undefined ? {} : { treasury: address(treasury, 'treasury') }),
      ...verifierDeployOptions(verifiers)
    })
    const { timelock, governor, ...rest } = addresses
    // Exactly the keys of a node config's chain.contracts (its schema allows no others).
    const contracts = checkContracts(rest, 'deployProtocol')
    process.stderr.write(`  governor ${governor}, timelock ${timelock}\n`)
    const out = str(v, 'out')
    if (out !== undefined) {
      await writeFile(out, JSON.stringify(contracts, null, 2) + '\n')
      process.stderr.write(`  wrote ${out}\n`)
    }
    const full = { chainId, deployer: wallet.address, governance, contracts, timelock, governor, verifiers }
    process.stdout.write(JSON.stringify(v.json === true ? full : contracts, (_, x: unknown) => typeof x === 'bigint' ? Number(x) : x, 2) + '\n')
    return 0
  } finally {
    provider.destroy()
  }
}

async function registerCommand (args: string[]): Promise<number> {
  const v = parse('register', args, { config: S, stake: S, 'peer-id': S, json: B })
  if (v === undefined) return 0
  const stake = parseAmount(str(v, 'stake', true), 'stake')
  const d = await deployment(v, true)
  try {
    const config = d.config!
    const peerId = await peerIdOf(config, str(v, 'peer-id'))
    const roles = Object.keys(config.roles)
    const bls = nodeBlsKey(config.operatorKey, config.chain?.blsKey)
    const wallet = new Wallet(config.operatorKey, d.provider)
    process.stderr.write(`registering ${config.name} (operator ${wallet.address}, peer ${peerId}, roles ${roles.join(', ') || 'none'}) with ${tokens(stake)} stake\n`)
    const token = await tokenOf(d)
    const { gasUsed } = await registerOperator(wallet, { nodeRegistry: d.contracts.nodeRegistry, token, peerId, roles, bls, stake, sender: await senderFor(wallet) })
    const registry = connectNodeRegistry(d.contracts.nodeRegistry, d.provider)
    const [bonded, active] = await Promise.all([registry.bondedStakeOf(wallet.address), registry.isActiveValidator(wallet.address)])
    const minStake = await connectProtocolParams(d.contracts.params, d.provider).minStake()
    if (roles.includes('quorum') && bonded < minStake) process.stderr.write(`  note: bonded ${tokens(bonded)} is below the minimum stake ${tokens(minStake)}: not an active validator until it is topped up\n`)
    print(v, { operator: wallet.address, peerId, roles, bonded, activeValidator: active, gasUsed }, [
      `registered ${config.name}: operator ${wallet.address}, peer ${peerId}`,
      `roles ${roles.join(', ') || 'none'}; bonded ${tokens(bonded)}; active validator ${active ? 'yes' : 'no'}; gas ${gasUsed}`
    ])
    return 0
  } finally {
    d.provider.destroy()
  }
}

async function statusCommand (args: string[]): Promise<number> {
  const v = parse('status', args, { config: S, rpc: S, contracts: S, address: S, json: B })
  if (v === undefined) return 0
  const d = await deployment(v)
  try {
    const addressText = str(v, 'address')
    if (d.config !== undefined && addressText !== undefined) throw new UsageError('--address goes with --rpc and --contracts; with --config the operator is its operatorKey')
    if (d.config === undefined && addressText === undefined) throw new UsageError('--address is required with --rpc and --contracts')
    const operator = d.config !== undefined ? new Wallet(d.config.operatorKey).address : address(addressText!, 'address')
    const registry = connectNodeRegistry(d.contracts.nodeRegistry, d.provider)
    const quorums = connectQuorumRegistry(d.contracts.quorumRegistry, d.provider)
    const params = connectProtocolParams(d.contracts.params, d.provider)
    const [node, active, epoch, split, quorumSize, challengeWindow, minStake, unbondingDelay] = await Promise.all([
      registry.nodeOf(operator), registry.isActiveValidator(operator), registry.currentEpoch(), params.feeSplit(),
      params.quorumSize(), params.challengeWindow(), params.minStake(), params.unbondingDelay()
    ])
    const committed = await quorums.isCommitted(epoch)
    const members = committed ? await quorums.membersOf(epoch) : []
    const inQuorum = members.some((m) => getAddress(m) === operator)
    const peerId = node.registered ? encodeBase58(getBytes(node.peerId)) : null
    const roles = rolesOf(node.roles)
    const blsG1 = node.blsG1[0] === 0n && node.blsG1[1] === 0n ? null : [hexlify32(node.blsG1[0]), hexlify32(node.blsG1[1])]
    // With a config, say whether what is registered is what this node runs with.
    let matches: { peerId: boolean | null, blsKey: boolean | null } | undefined
    if (d.config !== undefined && node.registered) {
      const mine = d.config.identitySeed === undefined ? null : await peerIdOf(d.config, undefined)
      const key = nodeBlsKey(d.config.operatorKey, d.config.chain?.blsKey)
      matches = {
        peerId: mine === null ? null : mine === peerId,
        blsKey: blsG1 === null ? null : key.g1[0] === node.blsG1[0] && key.g1[1] === node.blsG1[1]
      }
    }
    const feeSplit = { operatorBps: Number(split.operatorBps), validatorBps: Number(split.validatorBps), treasuryBps: Number(split.treasuryBps) }
    const json = {
      chainId: d.chainId,
      operator,
      registered: node.registered,
      exiting: node.exiting,
      peerId,
      roles,
      bonded: node.bonded,
      unbonding: node.unbonding,
      unlockAt: Number(node.unlockAt),
      activeValidator: active,
      epoch: Number(epoch),
      quorumCommitted: committed,
      inQuorum,
      quorumMembers: members.length,
      blsG1,
      ...(matches === undefined ? {} : { matchesConfig: matches }),
      params: { feeSplit, quorumSize: Number(quorumSize), challengeWindow: Number(challengeWindow), minStake, unbondingDelay: Number(unbondingDelay) }
    }
    const match = (m: boolean | null | undefined): string => m === undefined || m === null ? '' : m ? ' (matches the config)' : ' (DIFFERS from the config)'
    const pct = (bps: number): string => `${(bps / 100).toFixed(2)}%`
    print(v, json, [
      `operator      ${operator} on chain ${d.chainId}`,
      node.registered
        ? `registered    yes${node.exiting ? ', exiting' : ''}; peer ${peerId ?? ''}${match(matches?.peerId)}`
        : 'registered    no',
      `roles         ${roles.join(', ') || 'none'}`,
      `stake         bonded ${tokens(node.bonded)}, unbonding ${tokens(node.unbonding)}${node.unbonding > 0n ? ` (withdrawable from ${when(node.unlockAt)})` : ''}`,
      `validator     ${active ? 'active' : 'not active'}`,
      `epoch         ${epoch}: quorum ${committed ? `committed, ${members.length} members, operator ${inQuorum ? 'is' : 'is not'} one of them` : 'not committed yet'}`,
      `bls key       ${blsG1 === null ? 'none' : `G1 (${blsG1[0]!}, ${blsG1[1]!})`}${match(matches?.blsKey)}`,
      `parameters    fee split ${pct(feeSplit.operatorBps)} operators / ${pct(feeSplit.validatorBps)} validators / ${pct(feeSplit.treasuryBps)} treasury; quorum size ${quorumSize}; challenge window ${challengeWindow} s; min stake ${tokens(minStake)}; unbonding delay ${unbondingDelay} s`
    ])
    return 0
  } finally {
    d.provider.destroy()
  }
}

function hexlify32 (x: bigint): string {
  return '0x' + x.toString(16).padStart(64, '0')
}

async function unbondCommand (args: string[]): Promise<number> {
  const v = parse('unbond', args, { config: S, amount: S, json: B })
  if (v === undefined) return 0
  const amount = parseAmount(str(v, 'amount', true), 'amount')
  const d = await deployment(v, true)
  try {
    const wallet = new Wallet(d.config!.operatorKey, d.provider)
    const registry = connectNodeRegistry(d.contracts.nodeRegistry, d.provider)
    const r = await (await senderFor(wallet)).sendCall(registry, 'requestUnbond', [amount], { label: `NodeRegistry.requestUnbond(${amount})` })
    const node = await registry.nodeOf(wallet.address)
    print(v, { operator: wallet.address, txHash: r.txHash, bonded: node.bonded, unbonding: node.unbonding, unlockAt: Number(node.unlockAt) }, [
      `unbonding ${tokens(node.unbonding)} (withdrawable from ${when(node.unlockAt)}); still bonded ${tokens(node.bonded)}`
    ])
    return 0
  } finally {
    d.provider.destroy()
  }
}

async function withdrawStakeCommand (args: string[]): Promise<number> {
  const v = parse('withdraw-stake', args, { config: S, json: B })
  if (v === undefined) return 0
  const d = await deployment(v, true)
  try {
    const wallet = new Wallet(d.config!.operatorKey, d.provider)
    const registry = connectNodeRegistry(d.contracts.nodeRegistry, d.provider)
    const before = await registry.nodeOf(wallet.address)
    const r = await (await senderFor(wallet)).sendCall(registry, 'withdraw', [], { label: 'NodeRegistry.withdraw' })
    print(v, { operator: wallet.address, txHash: r.txHash, withdrawn: before.unbonding }, [`withdrew ${tokens(before.unbonding)} of unbonded stake to ${wallet.address}`])
    return 0
  } finally {
    d.provider.destroy()
  }
}

async function depositCommand (args: string[]): Promise<number> {
  const v = parse('deposit', args, { rpc: S, contracts: S, key: S, amount: S, json: B })
  if (v === undefined) return 0
  const amount = parseAmount(str(v, 'amount', true), 'amount')
  const key = privateKey(v)
  const d = await deployment(v)
  try {
    const wallet = new Wallet(key, d.provider)
    const token = connectVerimeshToken(await tokenOf(d), d.provider)
    const settlement = connectBatchSettlement(d.contracts.settlement, d.provider)
    const sender = await senderFor(wallet)
    if (await token.allowance(wallet.address, d.contracts.settlement) < amount) {
      await sender.sendCall(token, 'approve', [d.contracts.settlement, amount], { label: 'VerimeshToken.approve(settlement)' })
    }
    const r = await sender.sendCall(settlement, 'deposit', [amount], { label: `BatchSettlement.deposit(${amount})` })
    const deposit = await settlement.depositOf(wallet.address)
    print(v, { client: wallet.address, txHash: r.txHash, deposited: amount, deposit }, [`deposited ${tokens(amount)} for ${wallet.address}; deposit now ${tokens(deposit)}`])
    return 0
  } finally {
    d.provider.destroy()
  }
}

async function withdrawCommand (args: string[]): Promise<number> {
  const v = parse('withdraw', args, { rpc: S, contracts: S, key: S, request: S, execute: B, json: B })
  if (v === undefined) return 0
  const request = str(v, 'request')
  if ((request === undefined) === (v.execute !== true)) throw new UsageError('give exactly one of --request AMOUNT and --execute')
  const amount = request === undefined ? undefined : parseAmount(request, 'request')
  const key = privateKey(v)
  const d = await deployment(v)
  try {
    const wallet = new Wallet(key, d.provider)
    const settlement = connectBatchSettlement(d.contracts.settlement, d.provider)
    const sender = await senderFor(wallet)
    if (amount !== undefined) {
      const r = await sender.sendCall(settlement, 'requestWithdrawal', [amount], { label: `BatchSettlement.requestWithdrawal(${amount})` })
      const w = await settlement.withdrawalOf(wallet.address)
      print(v, { client: wallet.address, txHash: r.txHash, requested: w.amount, unlockAt: Number(w.unlockAt) }, [
        amount === 0n ? 'withdrawal request cancelled' : `withdrawal of ${tokens(w.amount)} requested; take it with --execute from ${when(w.unlockAt)}`
      ])
      return 0
    }
    const before = await settlement.depositOf(wallet.address)
    const r = await sender.sendCall(settlement, 'withdraw', [], { label: 'BatchSettlement.withdraw' })
    const after = await settlement.depositOf(wallet.address)
    print(v, { client: wallet.address, txHash: r.txHash, withdrawn: before - after, deposit: after }, [`withdrew ${tokens(before - after)}; deposit now ${tokens(after)}`])
    return 0
  } finally {
    d.provider.destroy()
  }
}

async function balanceCommand (args: string[]): Promise<number> {
  const v = parse('balance', args, { rpc: S, contracts: S, address: S, key: S, json: B })
  if (v === undefined) return 0
  const addressText = str(v, 'address')
  const account = addressText !== undefined ? address(addressText, 'address') : v.key !== undefined ? new Wallet(privateKey(v)).address : undefined
  if (account === undefined) throw new UsageError('--address is required')
  const d = await deployment(v)
  try {
    const token = connectVerimeshToken(await tokenOf(d), d.provider)
    const settlement = connectBatchSettlement(d.contracts.settlement, d.provider)
    const [balance, deposit, w] = await Promise.all([token.balanceOf(account), settlement.depositOf(account), settlement.withdrawalOf(account)])
    print(v, { account, balance, deposit, withdrawal: { amount: w.amount, unlockAt: Number(w.unlockAt) } }, [
      `account       ${account}`,
      `tokens        ${tokens(balance)}`,
      `deposit       ${tokens(deposit)}`,
      `withdrawal    ${w.amount === 0n ? 'none requested' : `${tokens(w.amount)}, from ${when(w.unlockAt)}`}`
    ])
    return 0
  } finally {
    d.provider.destroy()
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  deploy: deployCommand,
  register: registerCommand,
  status: statusCommand,
  unbond: unbondCommand,
  'withdraw-stake': withdrawStakeCommand,
  deposit: depositCommand,
  withdraw: withdrawCommand,
  balance: balanceCommand
}

export async function runChainCommand (argv: string[]): Promise<number> {
  return await runCommandGroup({ name: 'chain', usage: CHAIN_USAGE, help: HELP, commands: COMMANDS }, argv)
}
