// Piscina worker: one witness per task (circuits/witness.ts createWitnessPool).
import { VerimeshError } from '../runtime/errors.js'
import { calculate, type WitnessResult, type WitnessTask } from './witness.js'

export default async function witnessWorker (task: WitnessTask): Promise<WitnessResult> {
  try {
    return { wtns: await calculate(task) }
  } catch (err) {
    return { error: VerimeshError.from(err).toWire() }
  }
}
