import test from 'ava'
import { Wallet } from 'ethers'
import { attest, modelIdOf, receiptHash, requestId, signRequest, verifyAttestation, verifyRequest } from '../runtime/protocol/request.js'
import type { InferenceRequest, Receipt } from '../runtime/protocol/messages.js'
import { isVerimeshError } from '../runtime/errors.js'
import { parseConfig } from '../runtime/node/config.js'

const client = Wallet.createRandom()
const request: InferenceRequest = {
  model: 'toy', prompt: 'hi', maxTokens: 4, temperatureMilli: 0, topK: 1, topPMilli: 1000, seed: '1', feeCap: '1000',
  latencyBoundMs: 1000, verification: 'quorum', nonce: '1', deadline: 2_000_000_000_000, client: client.address
}

test('EIP-712 request: signature verifies, any change breaks it, id depends on chain', async (t) => {
  const sig = await signRequest(client, request, 31337)
  t.notThrows(() => verifyRequest(request, sig, 31337))
  t.true(isVerimeshError(t.throws(() => verifyRequest({ ...request, prompt: 'ho' }, sig, 31337)), 'BAD_SIGNATURE'))
  t.true(isVerimeshError(t.throws(() => verifyRequest(request, sig, 1)), 'BAD_SIGNATURE'))
  t.true(isVerimeshError(t.throws(() => verifyRequest(request, '0x1234', 31337)), 'BAD_SIGNATURE'))
  t.not(requestId(request, 31337), requestId(request, 1))
  await t.throwsAsync(signRequest(Wallet.createRandom(), request, 31337), { message: /signing wallet/ })
})

test('attestations bind a validator to one receipt', async (t) => {
  const validator = Wallet.createRandom()
  const receipt: Receipt = {
    requestId: requestId(request, 31337), modelId: modelIdOf('toy'), client: client.address,
    outputHash: '0x' + '01'.repeat(32), traceHash: '0x' + '02'.repeat(32), executors: [client.address], fee: '10'
  }
  const a = await attest(validator, receipt)
  t.is(a.receiptHash, receiptHash(receipt))
  t.notThrows(() => verifyAttestation(a, receipt))
  t.true(isVerimeshError(t.throws(() => verifyAttestation(a, { ...receipt, fee: '11' })), 'BAD_SIGNATURE'))
  t.true(isVerimeshError(t.throws(() => verifyAttestation({ ...a, validator: client.address }, receipt)), 'BAD_SIGNATURE'))
})

test('config: defaults applied, errors name the field', (t) => {
  const base = {
    name: 'n', operatorKey: '0x' + '11'.repeat(32),
    model: { id: 'm', path: '/models/m' },
    roles: { executor: { impl: 'pipeline', shards: [1] } }
  }
  const cfg = parseConfig(base)
  t.is(cfg.mesh.heartbeatMs, 1000)
  t.deepEqual(cfg.listen, ['/ip4/127.0.0.1/tcp/0'])
  const e1 = t.throws(() => parseConfig({ ...base, operatorKey: 'nope' }))
  t.true(isVerimeshError(e1, 'CONFIG_INVALID'))
  t.regex(e1.message, /\/operatorKey/)
  t.is(cfg.roles.executor?.backend, 'auto')
  t.regex(t.throws(() => parseConfig({ ...base, roles: { executor: { impl: 'pipeline', shards: [1], backend: 'gpu' } } })).message, /\/roles\/executor\/backend/)
  t.regex(t.throws(() => parseConfig({ ...base, roles: { settler: { impl: 'chain' } } })).message, /needs a chain/)
  t.regex(t.throws(() => parseConfig({ ...base, bogus: 1 })).message, /invalid/)
})
