// `npm test` step: compile the CUDA build of the addon when nvcc is on PATH, so CI
// proves it builds and runs the GPU-free CUDA checks (host build of the device
// arithmetic, emulated runner under sanitizers). Without nvcc it says so and skips;
// the CUDA tests then report themselves as skipped with the reason.
import { spawnSync } from 'node:child_process'

const probe = spawnSync('nvcc', ['--version'], { encoding: 'utf8' })
if (probe.error !== undefined || probe.status !== 0) {
  process.stderr.write(`build:cuda skipped: nvcc not found on PATH (${probe.error?.message ?? `exit ${probe.status}`})\n`)
  process.exit(0)
}
process.stderr.write('building the CUDA addon (npm run build:cuda)...\n')
const r = spawnSync('npm', ['run', 'build:cuda'], { stdio: 'inherit' })
process.exit(r.status ?? 1)
