// Deploying the dispute game with the rest of the protocol. The Disputes contract needs the
// tile circuit's Groth16 verifier, whose bytecode embeds the keys of one circuit build
// (runtime/chain/groth16-verifier.ts compiles it from circuits/build), so it is an extra
// step of deployProtocol with the verifier's address rather than one of PROTOCOL_STEPS:
//
//   const verifier = await Groth16VerifierClient.deploy(compileVerifier(tile.verifierPath), signer, 2)
//   await deployProtocol(signer, { extraSteps: [disputesStep(verifier.address)] })
//
// Wiring, while the deployer still owns everything: BatchSettlement.setDisputes and
// NodeRegistry.setSlasher(disputes, true); the step is Ownable, so governance gets it too.
import { isAddress } from 'ethers'

import { VerimeshError } from '../errors.js'
import type { DeployStep } from './deploy.js'

export function disputesStep (tileVerifier: string): DeployStep {
  if (!isAddress(tileVerifier)) throw new VerimeshError('CONFIG_INVALID', `tile verifier ${String(tileVerifier)} is not an address`, { tileVerifier })
  return {
    key: 'disputes',
    artifact: 'Disputes',
    ownable: true,
    args: (c) => [c.address('token'), c.address('params'), c.address('nodeRegistry'), c.address('modelRegistry'), c.address('settlement'), tileVerifier, c.deployer],
    wire: async (c) => {
      await c.send('settlement', 'setDisputes', [c.address('disputes')])
      await c.send('nodeRegistry', 'setSlasher', [c.address('disputes'), true])
    }
  }
}
