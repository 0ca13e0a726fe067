// Runs the embedded chain as its own OS process, so several processes (nodes,
// validators, tests) can share one chain:
//
//   node dist/runtime/chain/chain-process.js [--port 8545] [--host 127.0.0.1]
//        [--chain-id 31337] [--accounts 10]
//
// When it listens it prints exactly one JSON line on stdout,
//   {"url":"http://127.0.0.1:8545","chainId":31337,"accounts":[{"address":"0x…","privateKey":"0x…"},…]}
// and nothing else there (diagnostics go to stderr), so a parent can read the
// first line. SIGTERM or SIGINT stops it cleanly (exit code 0).
import '../polyfills.js'

import { isVerimeshError } from '../errors.js'
import { startEmbeddedChain } from './embedded-chain.js'

const FLAGS = ['host', 'port', 'chain-id', 'accounts']
const USAGE = 'usage: chain-process [--host 127.0.0.1] [--port 0] [--chain-id 31337] [--accounts 10]'

// Reject unknown flags instead of silently running with defaults.
for (let i = 2; i < process.argv.length; i += 2) {
  const arg = process.argv[i] as string
  if (arg === '--help' || arg === '-h') {
    process.stderr.write(USAGE + '\n')
    process.exit(0)
  }
  if (!arg.startsWith('--') || !FLAGS.includes(arg.slice(2))) {
    process.stderr.write(`chain-process: unknown argument ${arg}\n${USAGE}\n`)
    process.exit(2)
  }
}

function option (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return undefined
  const v = process.argv[i + 1]
  if (v === undefined || v.startsWith('--')) {
    process.stderr.write(`chain-process: --${name} needs a value\n`)
    process.exit(2)
  }
  return v
}

function intOption (name: string): number | undefined {
  const v = option(name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n)) {
    process.stderr.write(`chain-process: --${name} expects an integer, got ${v}\n`)
    process.exit(2)
  }
  return n
}

async function main (): Promise<void> {
  const chain = await startEmbeddedChain({
    host: option('host'),
    port: intOption('port'),
    chainId: intOption('chain-id'),
    accounts: intOption('accounts'),
    onError: (err, method) => process.stderr.write(`chain-process: ${method} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  })
  process.stdout.write(JSON.stringify({ url: chain.url, chainId: chain.chainId, accounts: chain.accounts }) + '\n')

  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stderr.write(`chain-process: ${signal}, stopping\n`)
    chain.stop().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`chain-process: stop failed: ${String(err)}\n`)
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

main().catch((err: unknown) => {
  const detail = isVerimeshError(err) ? `${err.code}: ${err.message} ${JSON.stringify(err.context)}` : String(err)
  process.stderr.write(`chain-process: failed to start: ${detail}\n`)
  process.exit(1)
})
