// Test-only Piscina worker for the prover's pool: the real worker, except that a witness
// task whose input has b = 666 kills the worker thread, as a crash in WebAssembly or a
// native abort would. Used to check that only that job fails.

import runProverTask, { type ProverTask } from '../actors/prover/backends/snarkjs-worker.js'

export default async function crashingTask (task: ProverTask): Promise<unknown> {
  if (task.op === 'witness' && task.input.b === '666') process.exit(3)
  return await runProverTask(task)
}
