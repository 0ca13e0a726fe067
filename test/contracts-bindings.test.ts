// Generated ethers bindings (scripts/gen-bindings.js → runtime/chain/types):
// the type mapping on a synthetic ABI, that a generated module type-checks
// (and rejects wrong argument types), and a deploy + call + event decode +
// revert decode round trip on the embedded chain with VerimeshToken.
import test from 'ava'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { Wallet, type JsonRpcProvider } from 'ethers'

import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { RevertError, decodeRevert } from '../runtime/chain/revert.js'
import { TxSender } from '../runtime/chain/tx-sender.js'
import { connectVerimeshToken, deployVerimeshToken, parseVerimeshTokenLogs, VerimeshTokenErrors, type VerimeshTokenEvent } from '../runtime/chain/types/VerimeshToken.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

interface AbiParam { name?: string, type: string, components?: AbiParam[], indexed?: boolean, internalType?: string }
interface Gen {
  tsType: (p: AbiParam, dir: 'in' | 'out') => string
  argsTuple: (ps: AbiParam[], dir?: 'in' | 'out') => string
  returnType: (ps: AbiParam[]) => string
  canonicalType: (p: AbiParam) => string
  generateBindings: (artifact: { contractName: string, sourceName?: string, abi: unknown[], bytecode: string }) => string
}

// The generator is plain JS that runs before tsc, so it is loaded by path.
const gen = async (): Promise<Gen> => await import(pathToFileURL(join(root, 'scripts', 'gen-bindings.js')).href) as Gen

const u = (type: string, name = ''): AbiParam => ({ name, type })
const point: AbiParam = { name: 'p', type: 'tuple', components: [u('uint256', 'x'), u('uint256', 'y')] }
const order: AbiParam = {
  name: 'orders',
  type: 'tuple[]',
  components: [u('address', 'maker'), u('bytes32[2]', 'roots'), { ...point, name: 'at' }, u('bool', 'open')]
}

test('Solidity → TypeScript type mapping, arguments and results', async (t) => {
  const g = await gen()
  t.is(g.tsType(u('uint256'), 'in'), 'bigint | number')
  t.is(g.tsType(u('int8'), 'out'), 'bigint')
  t.is(g.tsType(u('address'), 'in'), 'string')
  t.is(g.tsType(u('bytes32'), 'in'), 'BytesLike')
  t.is(g.tsType(u('bytes'), 'out'), 'string')
  t.is(g.tsType(u('bool'), 'out'), 'boolean')
  t.is(g.tsType(u('string'), 'in'), 'string')
  t.is(g.tsType(u('uint64[3]'), 'in'), 'readonly [bigint | number, bigint | number, bigint | number]')
  t.is(g.tsType(u('uint64[3]'), 'out'), '[bigint, bigint, bigint]')
  t.is(g.tsType(u('address[]'), 'out'), 'Array<string>')
  t.is(g.tsType(u('uint8[][2]'), 'in'), 'readonly [readonly (bigint | number)[], readonly (bigint | number)[]]')
  t.is(g.tsType(u('uint256[100]'), 'out'), 'Array<bigint>')
  t.is(g.tsType(point, 'in'), '{ x: bigint | number; y: bigint | number }')
  t.is(g.tsType(point, 'out'), '[bigint, bigint] & { x: bigint; y: bigint }')
  t.is(g.tsType({ type: 'tuple', components: [u('uint256'), u('bool')] }, 'in'), 'readonly [bigint | number, boolean]')
  t.is(g.tsType(order, 'in'),
    'readonly ({ maker: string; roots: readonly [BytesLike, BytesLike]; at: { x: bigint | number; y: bigint | number }; open: boolean })[]')
  t.is(g.tsType(order, 'out'),
    'Array<[string, [string, string], [bigint, bigint] & { x: bigint; y: bigint }, boolean] & { maker: string; roots: [string, string]; at: [bigint, bigint] & { x: bigint; y: bigint }; open: boolean }>')
  t.is(g.canonicalType(order), '(address,bytes32[2],(uint256,uint256),bool)[]')
  t.is(g.argsTuple([u('address', 'to'), u('uint256'), u('uint8', 'default')]), '[to: string, arg1: bigint | number, _default: bigint | number]')
  t.is(g.returnType([]), 'void')
  t.is(g.returnType([u('uint256')]), 'bigint')
  t.is(g.returnType([u('uint256', 'a'), u('address', 'b')]), '[bigint, string] & { a: bigint; b: string }')
  t.throws(() => g.tsType(u('fixed128x18'), 'in'), { message: /unsupported ABI type/ })
})

const syntheticAbi = [
  { type: 'constructor', stateMutability: 'nonpayable', inputs: [u('address', 'owner'), point] },
  { type: 'function', name: 'submit', stateMutability: 'payable', inputs: [order, u('bytes', 'note')], outputs: [u('uint256', 'id')] },
  { type: 'function', name: 'get', stateMutability: 'view', inputs: [u('uint256', 'id')], outputs: [{ ...order, name: 'o', type: 'tuple' }, u('bytes32', 'root')] },
  { type: 'function', name: 'pick', stateMutability: 'pure', inputs: [u('uint256')], outputs: [u('uint8')] },
  { type: 'function', name: 'pick', stateMutability: 'pure', inputs: [u('address')], outputs: [u('uint8')] },
  { type: 'function', name: 'connect', stateMutability: 'nonpayable', inputs: [], outputs: [] },
  { type: 'event', name: 'Submitted', anonymous: false, inputs: [{ ...u('uint256', 'id'), indexed: true }, { ...u('address', 'maker'), indexed: true }, u('uint256[]', '')] },
  { type: 'error', name: 'TooLate', inputs: [u('uint64', 'deadline')] },
  { type: 'error', name: 'Empty', inputs: [] }
]

// Uses the synthetic contract as a caller would; the @ts-expect-error lines
// must be errors, so the check fails if the generated types are too loose.
const usage = `
import type { JsonRpcProvider } from 'ethers'
import { connectSynthetic, type Synthetic, type SyntheticError, type SyntheticEvent } from './Synthetic.js'
export async function use (p: JsonRpcProvider): Promise<bigint> {
  const c: Synthetic = connectSynthetic('0x0000000000000000000000000000000000000001', p)
  const [o, root] = await c.get(1n)
  const x: bigint = o.at.x + o.at[1]
  const s: string = root + o.maker + o.roots[0]
  await c.submit([{ maker: s, roots: ['0x', '0x'], at: { x: 1, y: 2n }, open: true }], '0x', { value: 1n })
  const v: bigint = await c['pick(uint256)'](3)
  const e: SyntheticError = 'TooLate'
  const ev: SyntheticEvent['args'] = { id: 1n, maker: s, arg2: [x] }
  void e; void ev; void c['connect()']
  // @ts-expect-error a string is not a uint256
  await c.get('1')
  // @ts-expect-error overloaded: only reachable by signature
  void c.pick
  // @ts-expect-error no such error
  const bad: SyntheticError = 'Nope'
  void bad
  // @ts-expect-error field missing in the struct
  await c.submit([{ maker: s, roots: ['0x', '0x'], open: true }], '0x')
  return v
}
`

test('a generated module type-checks, and wrong argument types are errors', async (t) => {
  const g = await gen()
  const text = g.generateBindings({ contractName: 'Synthetic', sourceName: 'synthetic', abi: syntheticAbi, bytecode: '0x6000' })
  t.regex(text, /export const SyntheticErrors = \["Empty","TooLate"\] as const/)
  t.regex(text, /export async function deploySynthetic \(signer: Signer, \.\.\.args: WithOverrides<SyntheticConstructorArgs>\)/)
  t.notRegex(text, /readonly pick:/)
  t.notRegex(text, /readonly connect:/)

  // Served from memory next to the real generated modules, so the relative
  // import of ../typed-contract.js resolves to the real file.
  const dir = join(root, 'runtime', 'chain', 'types')
  const files = new Map([[join(dir, 'Synthetic.ts'), text], [join(dir, 'SyntheticUse.ts'), usage]])
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true, noEmit: true, skipLibCheck: true, types: ['node'], lib: ['lib.es2023.d.ts']
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, lang, onError) => {
    const mem = files.get(resolve(name))
    return mem !== undefined ? ts.createSourceFile(name, mem, lang) : getSourceFile(name, lang, onError)
  }
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (name) => files.has(resolve(name)) || fileExists(name)
  const readFile = host.readFile.bind(host)
  host.readFile = (name) => files.get(resolve(name)) ?? readFile(name)
  const program = ts.createProgram([...files.keys()], options, host)
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file !== undefined && files.has(resolve(d.file.fileName)))
  const messages = diagnostics.map((d) => `${d.file?.fileName ?? ''}:${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`)
  t.deepEqual(messages, [])
})

let chain: EmbeddedChain
let provider: JsonRpcProvider

test.before(async () => {
  chain = await startEmbeddedChain({ accounts: 3 })
  provider = connectProvider(chain.url, { chainId: chain.chainId, pollingInterval: 20 })
})

test.after.always(async () => {
  provider?.destroy()
  await chain?.stop()
})

// Serial (runs first): the in-process type check above blocks the event loop
// for seconds, which would stall the chain's HTTP server under a running deploy.
test.serial('round trip with VerimeshToken: deploy, call, decode events and custom errors', async (t) => {
  t.true(existsSync(join(root, 'runtime', 'chain', 'types', 'VerimeshToken.ts')))
  const [a, b] = chain.accounts.map((x) => new Wallet(x.privateKey, provider))
  const supply = 1_000n * 10n ** 18n
  const token = await deployVerimeshToken(a!, 'Verimesh', 'VMSH', a!.address, supply)
  const address = await token.getAddress()

  const reader = connectVerimeshToken(address, provider)
  t.is(await reader.symbol(), 'VMSH')
  t.is(await reader.balanceOf(a!.address), supply)

  const tx = await token.transfer(b!.address, 25n)
  const receipt = await tx.wait()
  const events = parseVerimeshTokenLogs(receipt?.logs ?? [], address)
  const transfer = events.find((e): e is Extract<VerimeshTokenEvent, { name: 'Transfer' }> => e.name === 'Transfer')
  t.deepEqual(transfer?.args, { from: a!.address, to: b!.address, value: 25n })
  t.is(await reader.balanceOf(b!.address), 25n)

  // A custom error of the token, decoded by name both from ethers' own error
  // and through the TxSender (which never sends what estimation rejects).
  const fromB = token.connect(b!)
  const err = await t.throwsAsync(fromB.transfer.staticCall(a!.address, 26n))
  t.is(decodeRevert(err)?.name, 'ERC20InsufficientBalance')
  t.true((VerimeshTokenErrors as readonly string[]).includes('ERC20InsufficientBalance'))
  const sender = await TxSender.create(b!, { pollIntervalMs: 20 })
  const viaSender = await t.throwsAsync(sender.sendCall(token, 'transfer', [a!.address, 26n]))
  t.true(viaSender instanceof RevertError)
  t.is((viaSender as RevertError).errorName, 'ERC20InsufficientBalance')
  t.deepEqual((viaSender as RevertError).errorArgs, [b!.address, '25', '26'])

  // And the artifact the binding embeds is the one on disk.
  const artifact = JSON.parse(readFileSync(join(root, 'dist', 'contracts', 'VerimeshToken.json'), 'utf8')) as { bytecode: string }
  t.is((await import('../runtime/chain/types/VerimeshToken.js')).VerimeshTokenBytecode, artifact.bytecode)
})
