// `verimesh chain ...` as a user runs it: the real CLI in a child process against an
// embedded chain served over JSON-RPC from this process.
import test from 'ava'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { hexlify, Wallet, keccak256, toUtf8Bytes } from 'ethers'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startEmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { TxSender } from '../runtime/chain/tx-sender.js'
import { connectNodeRegistry, connectQuorumRegistry, connectVerimeshToken } from '../runtime/chain/types/index.js'
import { blsKeyFromOperatorKey } from '../runtime/crypto/bls.js'
import { keyFromSeed } from '../runtime/net/libp2p.js'

const BIN = fileURLToPath(new URL('../../bin/verimesh.js', import.meta.url))
const TOKEN = 10n ** 18n

function run (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, 'chain', ...args], { timeout: 60_000, env: { ...process.env, VERIMESH_KEY: '' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

test('deploy, register, status, deposit and balance through the CLI; usage errors and reverts', async (t) => {
  const chain = await startEmbeddedChain({ accounts: 3 })
  const dir = await mkdtemp(path.join(os.tmpdir(), 'verimesh-cli-chain-'))
  const provider = connectProvider(chain.url, { chainId: chain.chainId, pollingInterval: 50 })
  t.teardown(async () => {
    provider.destroy()
    await chain.stop()
    await rm(dir, { recursive: true, force: true })
  })
  const [deployer, operator, client] = chain.accounts as [typeof chain.accounts[0], typeof chain.accounts[0], typeof chain.accounts[0]]

  // deploy: stdout is the chain.contracts object, --out the same in a file.
  const contractsFile = path.join(dir, 'contracts.json')
  const deployed = await run(['deploy', '--rpc', chain.url, '--key', deployer.privateKey, '--governance', 'deployer', '--out', contractsFile])
  t.is(deployed.code, 0, deployed.stderr)
  const contracts = JSON.parse(deployed.stdout) as Record<string, string>
  t.deepEqual(Object.keys(contracts).sort(), ['modelRegistry', 'nodeRegistry', 'params', 'quorumRegistry', 'settlement', 'token'])
  t.deepEqual(JSON.parse(await readFile(contractsFile, 'utf8')), contracts)
  t.regex(deployed.stderr, /governor 0x[0-9a-fA-F]{40}, timelock 0x/)
  t.not(await provider.getCode(contracts.settlement!), '0x')

  // Tokens for the operator's stake and the client's deposit, from the deployer's supply.
  const funder = await TxSender.create(new Wallet(deployer.privateKey, provider), { pollIntervalMs: 50 })
  const token = connectVerimeshToken(contracts.token!, provider)
  await funder.sendCall(token, 'transfer', [operator.address, 1500n * TOKEN])
  await funder.sendCall(token, 'transfer', [client.address, 1000n * TOKEN])

  const identitySeed = keccak256(toUtf8Bytes('cli-chain test node'))
  const configFile = path.join(dir, 'node.json')
  await writeFile(configFile, JSON.stringify({
    name: 'op-1',
    identitySeed,
    operatorKey: operator.privateKey,
    model: { id: 'm', path: 'model' },
    roles: { router: { impl: 'score' }, executor: { impl: 'pipeline', shards: [0] }, quorum: { impl: 'reexec' } },
    chain: { rpcUrl: chain.url, chainId: chain.chainId, contracts }
  }))

  const registered = await run(['register', '--config', configFile, '--stake', '1000'])
  t.is(registered.code, 0, registered.stderr)
  const peerId = peerIdFromPrivateKey(await keyFromSeed(identitySeed)).toString()
  t.true(registered.stdout.includes(peerId), registered.stdout)
  t.regex(registered.stderr, /NodeRegistry\.stake\(1000000000000000000000\): mined in block \d+/)
  // What landed on chain is the node's own peer id and the quorum role's BLS key.
  const node = await connectNodeRegistry(contracts.nodeRegistry!, provider).nodeOf(operator.address)
  t.is(node.peerId, hexlify(peerIdFromPrivateKey(await keyFromSeed(identitySeed)).toMultihash().bytes))
  t.deepEqual([...node.blsG1], [...blsKeyFromOperatorKey(operator.privateKey).g1])
  t.is(node.roles, 1n | 2n | 8n)

  await funder.sendCall(connectQuorumRegistry(contracts.quorumRegistry!, provider), 'commitQuorum', [0n])
  const status = await run(['status', '--config', configFile, '--json'])
  t.is(status.code, 0, status.stderr)
  const s = JSON.parse(status.stdout) as Record<string, unknown>
  t.like(s, {
    operator: operator.address,
    registered: true,
    peerId,
    roles: ['router', 'executor', 'quorum'],
    bonded: (1000n * TOKEN).toString(),
    unbonding: '0',
    activeValidator: true,
    epoch: 0,
    quorumCommitted: true,
    inQuorum: true,
    matchesConfig: { peerId: true, blsKey: true },
    params: { feeSplit: { operatorBps: 7800, validatorBps: 1200, treasuryBps: 1000 }, quorumSize: 3, challengeWindow: 3600, minStake: (1000n * TOKEN).toString() }
  })
  const byAddress = await run(['status', '--rpc', chain.url, '--contracts', contractsFile, '--address', operator.address])
  t.is(byAddress.code, 0, byAddress.stderr)
  t.regex(byAddress.stdout, /validator +active/)
  t.regex(byAddress.stdout, /bonded 1000\.0 tokens/)

  // A client: deposit, then the balance shows it.
  const deposited = await run(['deposit', '--rpc', chain.url, '--contracts', contractsFile, '--key', client.privateKey, '--amount', '250'])
  t.is(deposited.code, 0, deposited.stderr)
  const requested = await run(['withdraw', '--rpc', chain.url, '--contracts', contractsFile, '--key', client.privateKey, '--request', '100'])
  t.is(requested.code, 0, requested.stderr)
  const balance = await run(['balance', '--rpc', chain.url, '--contracts', contractsFile, '--address', client.address, '--json'])
  t.is(balance.code, 0, balance.stderr)
  t.like(JSON.parse(balance.stdout), { account: client.address, balance: (750n * TOKEN).toString(), deposit: (250n * TOKEN).toString(), withdrawal: { amount: (100n * TOKEN).toString() } })
  // The withdrawal delay (1 day) has not passed.
  const early = await run(['withdraw', '--rpc', chain.url, '--contracts', contractsFile, '--key', client.privateKey, '--execute'])
  t.is(early.code, 1)
  t.regex(early.stderr, /CHAIN_ERROR: .*reverted with WithdrawalLocked/)

  // A usage error: exit 2, the problem and where the help is.
  const usage = await run(['deposit', '--rpc', chain.url, '--contracts', contractsFile, '--key', client.privateKey, '--amount', 'lots'])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /--amount expects whole tokens/)
  t.regex(usage.stderr, /verimesh chain deposit --help/)
  t.is((await run(['status'])).code, 2)
  t.is((await run(['frobnicate'])).code, 2)

  // Registering twice reverts with the registry's custom error.
  const again = await run(['register', '--config', configFile, '--stake', '0'])
  t.is(again.code, 1)
  t.regex(again.stderr, /reverted with: AlreadyRegistered/)

  // Unbonding part of the stake shows in the status; taking it early is refused.
  const unbond = await run(['unbond', '--config', configFile, '--amount', '10'])
  t.is(unbond.code, 0, unbond.stderr)
  t.like(JSON.parse((await run(['status', '--config', configFile, '--json'])).stdout), { bonded: (990n * TOKEN).toString(), unbonding: (10n * TOKEN).toString(), activeValidator: false })
  const withdrawStake = await run(['withdraw-stake', '--config', configFile])
  t.is(withdrawStake.code, 1)
  t.regex(withdrawStake.stderr, /UnbondingLocked/)
})
