// The CUDA build (build-cuda/Release, made by `npm run build:cuda`). It is
// optional, so without it these tests are reported as skipped, not passed.

import test from 'ava'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { AddonLoader, loadAddon } from '../runtime/addon.js'

const loader = new AddonLoader()
const cudaPath = path.join(loader.root, 'build-cuda', 'Release', 'verimesh_native.node')
const cudaBuilt = existsSync(cudaPath)
const cudaTest = cudaBuilt ? test : test.skip
// Shown in the skipped tests' titles, so a run without the build says why.
const note = cudaBuilt ? '' : ' (skipped: no build-cuda; run `npm run build:cuda`)'

// The device nodes the NVIDIA driver creates; without them no GPU can be seen.
const hasNvidiaDevice = (() => {
  try {
    return readdirSync('/dev').some(name => /^nvidia\d+$/.test(name))
  } catch {
    return false
  }
})()

cudaTest('prefer cuda loads the CUDA build, compiled with CUDA' + note, t => {
  const addon = loadAddon({ prefer: 'cuda' })
  t.is(addon.path, cudaPath)
  const caps = addon.capabilities()
  t.log(JSON.stringify({ build: caps.build, gpu: caps.gpu }))
  t.true(caps.build.cuda)
  t.is(caps.build.tool, 'cmake-js')
  t.regex(caps.build.cudaVersion ?? '', /^\d+\.\d+$/)
  for (const arch of ['80-real', '90-real', '90-virtual']) t.true(caps.build.cudaArchitectures.includes(arch), arch)
  // Same CPU detection code in both builds
  t.deepEqual(caps.cpu, loadAddon({ prefer: 'cpu' }).capabilities().cpu)
})

cudaTest('the GPU report is consistent with the machine' + note, t => {
  const caps = loadAddon({ prefer: 'cuda' }).capabilities()
  if (!caps.gpu.present) {
    t.deepEqual(caps.gpu.devices, [])
    t.regex(caps.gpu.reason, /^(cudaGetDeviceCount failed: .+ \(\d+\)|no CUDA devices|cudaGetDeviceProperties failed: .+)$/)
    const st = loadAddon({ prefer: 'cuda' }).gpuSelfTest(0)
    t.false(st.ok)
    t.is(st.reason, caps.gpu.reason)
  } else {
    t.is(caps.gpu.reason, '')
    t.true(caps.gpu.devices.length > 0)
    for (const d of caps.gpu.devices) {
      t.true(d.name.length > 0)
      t.regex(d.computeCapability, /^\d+\.\d+$/)
      t.true(d.memoryBytes > 0)
      t.true(d.multiprocessors > 0)
    }
    const st = loadAddon({ prefer: 'cuda' }).gpuSelfTest(0)
    t.deepEqual(st, { ok: true, reason: '' })
  }
  // No NVIDIA device node means no GPU, whatever the addon thinks.
  if (!hasNvidiaDevice) t.false(caps.gpu.present)
})
