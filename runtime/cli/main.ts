// The `verimesh` command. Each subcommand parses its own flags and prints its own help.

import { runModelCommand } from './model.js'
import { runChainCommand } from './chain.js'
import { parseArgs } from 'node:util'
import path from 'node:path'
import { Wallet } from 'ethers'
import { VerimeshError, isVerimeshError } from '../errors.js'
import { loadConfig } from '../node/config.js'
import { configDirOf, startNode, type RunningNode } from '../node/node.js'
import { createLogger, type LogLevel } from '../node/logger.js'
import { MeshClient } from '../client/mesh-client.js'
import { Devnet } from './devnet.js'
import type { InferResultMsg } from '../protocol/messages.js'

const USAGE = `verimesh — verifiable, sharded AI inference over a peer-to-peer mesh

Usage:
  verimesh node start --config <file>   run a node with the roles its config lists
  verimesh devnet [--nodes N]           local chain + N node processes, until Ctrl-C
  verimesh demo [--once]                devnet plus one signed request, printed step by step
  verimesh info                         native addon capabilities (CPU features, GPU)
  verimesh model <synth|import|info|shard|export-gguf> ...
                                        model packages: create, import GGUF, inspect, reshard
  verimesh chain <deploy|register|status|unbond|withdraw-stake|deposit|withdraw|balance> ...
                                        the protocol contracts on any JSON-RPC endpoint
  verimesh help <command>               help for one command

Logs are JSON lines on stdout. Exit codes: 0 ok, 1 runtime failure, 2 usage error.
`

const HELP: Record<string, string> = {
  node: `verimesh node start --config <file>

Starts one node: a libp2p host (TCP, noise, yamux, gossipsub heartbeats), the actor
runtime, and every role present in the config (router, executor, quorum, settler) under
a root supervisor. Stops gracefully on SIGINT/SIGTERM. A config is JSON; see
docs/configuration.md and the files a devnet writes to .verimesh/devnet/.

Options:
  --config <file>   node configuration (required)
`,
  devnet: `verimesh devnet [--nodes N] [--dir DIR] [--model DIR] [--verbose]

Starts an embedded EVM chain served over JSON-RPC on loopback, deploys the protocol
(token, governance, parameters, node/model/quorum registries, batch settlement), runs N
node processes wired together, registers and stakes them and commits the first epoch's
validator quorum. Runs until interrupted.

Options:
  --nodes N     number of node processes (default 3, 2..32)
  --dir DIR     where node configs and logs go (default .verimesh/devnet)
  --model DIR   serve this model package (verimesh model synth/import) instead of the
                default synthetic one (made once under .verimesh/models)
  --verbose     also stream every node's JSON logs to stderr
`,
  demo: `verimesh demo [--once] [--nodes N] [--model DIR] [--prompt TEXT] [--max-tokens N] [--seed N] [--temperature T] [--verification quorum|proof|none]

Starts a devnet, submits one EIP-712-signed inference request, and prints what
happened: output, the executors that served each shard, the quorum attestations, the
receipt and the batch it was settled in (co-signed by the epoch's BLS quorum). Keeps the devnet up until Ctrl-C unless --once.

Options:
  --once            exit after the request, stopping every process it started
  --nodes N         devnet size (default 3)
  --model DIR       serve this model package instead of the default synthetic one
  --prompt TEXT     prompt (default "Hello, Verimesh")
  --max-tokens N    tokens to generate (default 16)
  --temperature T   0 = greedy (default); otherwise seeded top-k 40, top-p 0.95 sampling
  --seed N          sampling seed (default 7)
  --verification M  quorum (default): re-executed and attested; proof: also a Groth16
                    receipt proof, checked by the quorum (needs \`npm run circuits:build\`);
                    none: no checks, nothing settled
  --dir DIR         where node configs and logs go (default .verimesh/devnet)
  --verbose         stream node logs to stderr
`,
  info: `verimesh info

Prints the native addon's build and the capabilities it detected: CPU vendor and
features (AVX2, AVX-512 VNNI, AMX), and whether a CUDA GPU is usable (and why not).
`
}

export async function main (argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  try {
    switch (cmd) {
      case undefined:
      case '-h':
      case '--help':
        process.stdout.write(USAGE)
        return cmd === undefined ? 2 : 0
      case 'help':
        if (rest[0] === 'model') return await runModelCommand(['help', ...rest.slice(1)])
        if (rest[0] === 'chain') return await runChainCommand(['help', ...rest.slice(1)])
        process.stdout.write(HELP[rest[0] ?? ''] ?? USAGE)
        return 0
      case 'node':
        return await nodeCommand(rest)
      case 'devnet':
        return await devnetCommand(rest, false)
      case 'demo':
        return await devnetCommand(rest, true)
      case 'info':
        return await infoCommand(rest)
      case 'model':
        return await runModelCommand(rest)
      case 'chain':
        return await runChainCommand(rest)
      default:
        process.stderr.write(`verimesh: unknown command '${cmd}'\n\n${USAGE}`)
        return 2
    }
  } catch (err) {
    if (isVerimeshError(err) && err.code === 'CONFIG_INVALID') {
      process.stderr.write(`verimesh: ${err.message}\n`)
      return 2
    }
    const e = VerimeshError.from(err)
    process.stderr.write(`verimesh: ${e.code}: ${e.message}\n`)
    return 1
  }
}

type FlagSpec = Record<string, { type: 'string' | 'boolean', short?: string }>
type FlagValues = Record<string, string | boolean | undefined>

function parse (args: string[], options: FlagSpec, cmd: string): FlagValues | undefined {
  try {
    const { values } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true }) as { values: FlagValues }
    if (values.help === true) {
      process.stdout.write(HELP[cmd] ?? USAGE)
      return undefined
    }
    return values
  } catch (err) {
    throw new VerimeshError('CONFIG_INVALID', `${(err as Error).message}\n\n${HELP[cmd] ?? USAGE}`)
  }
}

function intFlag (v: unknown, name: string, def: number): number {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n)) throw new VerimeshError('CONFIG_INVALID', `--${name} expects an integer, got '${String(v)}'`)
  return n
}

/** Resolves on the first SIGINT/SIGTERM. */
function untilSignal (): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(sig)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

async function nodeCommand (args: string[]): Promise<number> {
  if (args[0] !== 'start') {
    process.stderr.write(`verimesh node: expected 'start'\n\n${HELP.node!}`)
    return 2
  }
  const values = parse(args.slice(1), { config: { type: 'string', short: 'c' } }, 'node')
  if (values === undefined) return 0
  if (typeof values.config !== 'string') throw new VerimeshError('CONFIG_INVALID', `--config is required\n\n${HELP.node!}`)
  const config = await loadConfig(values.config)
  const logger = createLogger({ level: config.log.level as LogLevel })
  let fatal: VerimeshError | undefined
  let wake: (() => void) | undefined
  const node: RunningNode = await startNode(config, {
    configDir: configDirOf(values.config),
    logger,
    onFatal: (err) => { fatal = err; wake?.() }
  })
  // Started by a devnet: report readiness, and exit when the parent goes away.
  if (typeof process.send === 'function') {
    process.send({ type: 'ready', peerId: node.peerId, addrs: node.addrs, metricsUrl: node.metricsUrl, operator: node.operator })
    process.once('disconnect', () => { wake?.() })
  }
  await Promise.race([untilSignal(), new Promise<void>((resolve) => { wake = resolve })])
  await node.stop()
  if (fatal !== undefined) {
    logger.fatal({ code: fatal.code }, fatal.message)
    return 1
  }
  return 0
}

async function devnetCommand (args: string[], demo: boolean): Promise<number> {
  const cmd = demo ? 'demo' : 'devnet'
  const values = parse(args, {
    nodes: { type: 'string' },
    dir: { type: 'string' },
    verbose: { type: 'boolean' },
    model: { type: 'string' },
    ...(demo
      ? {
          once: { type: 'boolean' },
          prompt: { type: 'string' },
          'max-tokens': { type: 'string' },
          temperature: { type: 'string' },
          seed: { type: 'string' },
          verification: { type: 'string' }
        }
      : {})
  }, cmd)
  if (values === undefined) return 0
  const nodes = intFlag(values.nodes, 'nodes', 3)
  const dir = path.resolve(typeof values.dir === 'string' ? values.dir : path.join('.verimesh', 'devnet'))
  const out = (line: string): void => { process.stdout.write(line + '\n') }
  const logger = createLogger({ level: 'warn', destination: 2 })
  const started = performance.now()
  const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)}s`

  out(`Verimesh ${cmd}: ${nodes} nodes on loopback; configs and logs in ${path.relative(process.cwd(), dir) || dir}`)
  const stopSignal = untilSignal()
  const devnet = await Devnet.start({
    nodes,
    dir,
    logger,
    verbose: values.verbose === true,
    ...(typeof values.model === 'string' ? { model: { path: path.resolve(values.model) } } : {}),
    onProgress: (m) => { out(`  [${elapsed()}] ${m}`) }
  })
  let client: MeshClient | undefined
  let code = 0
  try {
    client = await MeshClient.connect({ logger, chainId: devnet.chain.chainId })
    for (const n of devnet.nodes) await client.addPeer(n.peerId, n.addrs)
    const entry = devnet.nodes[0]!
    // Every router, not just the entry one, must see the whole mesh: executors learn
    // each other's addresses from heartbeats, and a pipeline hop needs them.
    const statuses = await Promise.all(devnet.nodes.map(async (n) => await client!.waitForMesh(n.peerId, nodes, 30_000)))
    out(`  [${elapsed()}] mesh formed: every router sees ${statuses[0]!.peers.length} peers covering shards ${statuses[0]!.coveredShards.join(', ')}`)

    if (demo) {
      const wallet = new Wallet(devnet.clientKey)
      const prompt = typeof values.prompt === 'string' ? values.prompt : 'Hello, Verimesh'
      const verification = values.verification ?? 'quorum'
      if (verification !== 'quorum' && verification !== 'proof' && verification !== 'none') throw new VerimeshError('CONFIG_INVALID', `--verification must be quorum, proof or none, got ${String(verification)}`)
      const temperature = Number(values.temperature ?? 0)
      if (!Number.isFinite(temperature) || temperature < 0 || temperature > 10) throw new VerimeshError('CONFIG_INVALID', `--temperature must be in [0, 10], got ${String(values.temperature)}`)
      out('')
      out(`Request: "${prompt}" from client ${wallet.address}, signed with EIP-712, sent to the router on ${entry.name}`)
      const { result } = await client.infer(entry.peerId, wallet, {
        model: devnet.modelId,
        prompt,
        maxTokens: intFlag(values['max-tokens'], 'max-tokens', 16),
        temperatureMilli: Math.round(temperature * 1000),
        topK: temperature === 0 ? 1 : 40,
        topPMilli: temperature === 0 ? 1000 : 950,
        seed: BigInt(intFlag(values.seed, 'seed', 7)),
        verification
      })
      printResult(out, result, devnet)
      out(`  [${elapsed()}] done`)
    }
    for (const n of devnet.nodes) out(`  ${n.name}: peer ${n.peerId}  ${n.addrs[0] ?? ''}  metrics ${n.metricsUrl ?? 'off'}`)
    out(`  chain: ${devnet.chain.url} (chain id ${devnet.chain.chainId}), settlement ${devnet.settlement}`)
    if (!(demo && values.once === true)) {
      out('Devnet running. Press Ctrl-C to stop.')
      await Promise.race([stopSignal, ...devnet.nodes.map(async (n) => await n.exited)])
    }
  } catch (err) {
    const e = VerimeshError.from(err)
    process.stderr.write(`verimesh ${cmd}: ${e.code}: ${e.message}\n`)
    if (Object.keys(e.context).length > 0) process.stderr.write(`  context: ${JSON.stringify(e.context)}\n`)
    process.stderr.write(`  node logs: ${dir}\n`)
    code = 1
  } finally {
    out('Stopping devnet...')
    await client?.stop()
    await devnet.stop()
    out('Stopped.')
  }
  return code
}

function printResult (out: (l: string) => void, r: InferResultMsg, devnet: Devnet): void {
  const nameOf = (peer: string): string => devnet.nodes.find((n) => n.peerId === peer)?.name ?? `…${peer.slice(-8)}`
  const nameOfOperator = (op: string): string => devnet.nodes.find((n) => n.config.operatorKey !== undefined && new Wallet(n.config.operatorKey).address.toLowerCase() === op.toLowerCase())?.name ?? op
  out(`  request id   ${r.requestId}`)
  out(`  output       ${JSON.stringify(r.text)}  (${r.tokens.length} tokens: ${r.tokens.join(' ')})`)
  out(`  model        ${devnet.modelId}, ${devnet.shardCount} shards, root ${devnet.modelRoot}${devnet.modelSynthetic ? ' — synthetic: seeded random int8 weights, not a trained model, so the text is noise' : ''}`)
  out(`  route        ${r.route.map((h) => `shard ${h.shard} → ${nameOf(h.peer)}`).join(', ')}  (backend ${r.backend}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'})`)
  out(`  output hash  ${r.outputHash}`)
  out(`  trace hash   ${r.traceHash}`)
  out(`  quorum       ${r.attestations.map((a) => `${nameOfOperator(a.validator)} signed`).join(', ') || 'none'}${r.attestations.length > 0 ? ' (re-executed, hashes matched)' : ` (verification ${r.verification})`}`)
  if (r.proof !== undefined) {
    const p = r.proof
    const phases = Object.entries(p.timings).map(([k, v]) => `${k.replace(/Ms$/, '')} ${(v as number).toFixed(1)}`).join(', ')
    out(`  proof        Groth16/BN254 of circuit '${p.circuit}' by ${p.backend}${p.threads === undefined ? '' : `, ${p.threads} thread(s)`}${p.kernel === undefined ? '' : `, kernel ${p.kernel}`}`)
    out(`               public signal ${p.publicSignals.join(', ')} (the receipt's Poseidon commitment)`)
    out(`               pi_a (${p.proof.pi_a[0].slice(0, 16)}…, ${p.proof.pi_a[1].slice(0, 16)}…); ms: ${phases}`)
    for (const { validator, report } of r.proofReports ?? []) {
      out(`               checked by ${nameOfOperator(validator)}: ${report.valid ? 'valid' : `INVALID (${report.error ?? ''})`} (${report.backend}, ${report.ms.toFixed(1)} ms)`)
    }
  }
  out(`  receipt      ${r.receiptHash}  fee ${r.receipt.fee} wei`)
  if (r.settlement !== null) {
    const st = r.settlement
    out(`  settlement   batch ${st.batchId} (receipt ${st.receiptIndex + 1} of ${st.receiptCount}), co-signed by the epoch ${st.epoch} quorum (BLS), tx ${st.txHash}`)
    out(`               block ${st.blockNumber}, gas ${st.gasUsed}, BatchSettlement ${st.contract}, chain ${st.chainId}`)
    out(`               leaf ${st.leafHash} in receipts root ${st.receiptsRoot}`)
    out(`               fees split per ProtocolParams (default 78/12/10 operators/validators/treasury); payouts claimable after ${new Date(st.challengeDeadline * 1000).toISOString()} (challenge window)`)
  }
  const t = r.timings
  out(`  timings      execute ${t.executeMs.toFixed(0)} ms, ${t.proveMs === undefined ? '' : `prove ${t.proveMs.toFixed(0)} ms, `}verify ${t.verifyMs.toFixed(0)} ms, settle ${t.settleMs.toFixed(0)} ms, total ${t.totalMs.toFixed(0)} ms`)
}

async function infoCommand (args: string[]): Promise<number> {
  const values = parse(args, {}, 'info')
  if (values === undefined) return 0
  const { loadAddon } = await import('../addon.js')
  const addon = loadAddon()
  process.stdout.write(JSON.stringify(addon.capabilities(), null, 2) + '\n')
  return 0
}
