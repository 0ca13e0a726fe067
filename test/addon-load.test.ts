// The CPU build (build/Release, made by `npm install` / `npx node-gyp rebuild`)
// loads, reports well-formed capabilities, and its feature detection agrees
// with the kernel's view in /proc/cpuinfo.

import test from 'ava'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { AddonLoader, loadAddon, type AddonCapabilities, type CpuFeatureFlags } from '../runtime/addon.js'
import { isVerimeshError } from '../runtime/errors.js'

const TIERS = ['baseline', 'avx2', 'avx512', 'avx512vnni', 'amx']

test('the CPU build loads from build/Release', t => {
  const addon = loadAddon()
  t.true(addon.path.endsWith(path.join('build', 'Release', 'verimesh_native.node')), addon.path)
  t.is(loadAddon(), addon, 'cached per path')
})

test('capabilities are well-formed', t => {
  const caps: AddonCapabilities = loadAddon().capabilities()
  t.log(JSON.stringify(caps))

  t.regex(caps.version, /^\d+\.\d+\.\d+/)
  t.is(caps.build.tool, 'node-gyp')
  t.regex(caps.build.compiler, /^(gcc|clang) \d/)
  t.is(caps.build.napiVersion, 8)
  if (process.arch === 'x64') {
    t.is(caps.build.arch, 'x86-64-v2')
    t.true(caps.build.flags.includes('-march=x86-64-v2'))
    t.false(caps.build.flags.includes('native'), 'never -march=native')
  }
  t.false(caps.build.cuda)
  t.is(caps.build.cudaVersion, null)
  t.deepEqual(caps.build.cudaArchitectures, [])

  t.is(typeof caps.cpu.vendor, 'string')
  t.is(typeof caps.cpu.brand, 'string')
  t.true(Number.isInteger(caps.cpu.logicalCores) && caps.cpu.logicalCores >= 1)
  // both count online CPUs (not the affinity mask); os.cpus() is empty where /proc is hidden
  if (os.cpus().length > 0) t.is(caps.cpu.logicalCores, os.cpus().length)
  const keys: Array<keyof CpuFeatureFlags> = ['sse42', 'avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl',
    'avx512vnni', 'avxvnni', 'amxTile', 'amxInt8', 'amxBf16']
  t.deepEqual(Object.keys(caps.cpu.features).sort(), [...keys].sort())
  for (const k of keys) t.is(typeof caps.cpu.features[k], 'boolean', k)
  t.regex(caps.cpu.osEnabled.xcr0, /^0x[0-9a-f]+$/)
  t.true(TIERS.includes(caps.cpu.tier))

  // Internal consistency: a feature implies the OS state it needs.
  const f = caps.cpu.features
  if (f.avx2 || f.fma || f.avxvnni) t.true(caps.cpu.osEnabled.avx)
  if (f.avx512f) t.true(caps.cpu.osEnabled.avx512)
  if (f.avx512bw || f.avx512vl || f.avx512vnni) t.true(f.avx512f)
  if (f.amxTile) t.true(caps.cpu.osEnabled.amx)
  if (f.amxInt8 || f.amxBf16) t.true(f.amxTile)
  if (caps.cpu.amxUsable) {
    t.true(f.amxTile)
    t.is(caps.cpu.amxReason, '')
  } else {
    t.not(caps.cpu.amxReason, '')
  }

  t.deepEqual(caps.gpu, { present: false, reason: 'addon built without CUDA', driverVersion: null, devices: [] })
  t.deepEqual(loadAddon().gpuSelfTest(), { ok: false, reason: 'addon built without CUDA' })
})

// Linux clears a flag in /proc/cpuinfo when the CPU has it but the kernel does
// not enable its register state, so these should match our cpuid+xgetbv view.
const cpuinfoFlags = ((): Set<string> | undefined => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find(l => l.startsWith('flags'))
    return line === undefined ? undefined : new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/))
  } catch {
    return undefined
  }
})()

const cpuinfoTest = cpuinfoFlags !== undefined ? test : test.skip
cpuinfoTest('detected CPU features agree with /proc/cpuinfo', t => {
  const flags = cpuinfoFlags as Set<string>
  const f = loadAddon().capabilities().cpu.features
  const mapping: Array<[keyof CpuFeatureFlags, string]> = [
    ['sse42', 'sse4_2'], ['avx2', 'avx2'], ['fma', 'fma'],
    ['avx512f', 'avx512f'], ['avx512bw', 'avx512bw'], ['avx512vl', 'avx512vl'],
    ['avx512vnni', 'avx512_vnni'], ['avxvnni', 'avx_vnni'],
    ['amxTile', 'amx_tile'], ['amxInt8', 'amx_int8'], ['amxBf16', 'amx_bf16']
  ]
  for (const [key, flag] of mapping) {
    t.is(f[key], flags.has(flag), `${key} vs /proc/cpuinfo '${flag}'`)
  }
  // On a Linux kernel new enough to list AMX (>= 5.16) the permission request must succeed.
  if (flags.has('amx_tile')) t.true(loadAddon().capabilities().cpu.amxUsable, loadAddon().capabilities().cpu.amxReason)
})

test('a nonexistent path gives ADDON_UNAVAILABLE with a clear message', t => {
  const missing = path.join(os.tmpdir(), 'verimesh-no-such-dir', 'verimesh_native.node')
  const err = t.throws(() => loadAddon({ path: missing }))
  t.true(isVerimeshError(err, 'ADDON_UNAVAILABLE'), String(err))
  t.true(err?.message.includes(missing), err?.message)
  t.true(err?.message.includes('not found'), err?.message)
})

test('a file that is not a shared object gives ADDON_UNAVAILABLE with the dlopen error', t => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'verimesh-addon-'))
  const bogus = path.join(dir, 'verimesh_native.node')
  writeFileSync(bogus, 'not an ELF file')
  const err = t.throws(() => new AddonLoader().load({ path: bogus }))
  if (!isVerimeshError(err, 'ADDON_UNAVAILABLE')) return t.fail(String(err))
  // dlopen's own words differ by size and libc ("invalid ELF header", "file too short")
  t.true(err.message.includes(`${bogus}: failed to load: `), err.message)
})

test('prefer cuda falls back past an absent CUDA build, not past a broken one', t => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'verimesh-root-'))
  const real = loadAddon().path
  mkdirSync(path.join(root, 'build', 'Release'), { recursive: true })
  copyFileSync(real, path.join(root, 'build', 'Release', 'verimesh_native.node'))

  const loaded = new AddonLoader(root).load({ prefer: 'cuda' })
  t.is(loaded.path, path.join(root, 'build', 'Release', 'verimesh_native.node'))

  mkdirSync(path.join(root, 'build-cuda', 'Release'), { recursive: true })
  writeFileSync(path.join(root, 'build-cuda', 'Release', 'verimesh_native.node'), 'truncated build')
  const err = t.throws(() => new AddonLoader(root).load({ prefer: 'cuda' }))
  if (!isVerimeshError(err, 'ADDON_UNAVAILABLE')) return t.fail(String(err))
  t.true(err.message.includes(path.join('build-cuda', 'Release')), err.message)
  t.deepEqual(err.context.tried, [path.join(root, 'build-cuda', 'Release', 'verimesh_native.node')])
})

test('an empty package root reports every path it tried', t => {
  const root = path.join(os.tmpdir(), 'verimesh-empty-root')
  t.false(existsSync(path.join(root, 'build')))
  const loader = new AddonLoader(root)
  t.deepEqual(loader.candidates({ prefer: 'cuda' }), [
    path.join(root, 'build-cuda', 'Release', 'verimesh_native.node'),
    path.join(root, 'build', 'Release', 'verimesh_native.node')
  ])
  const err = t.throws(() => loader.load({ prefer: 'cuda' }))
  if (!isVerimeshError(err, 'ADDON_UNAVAILABLE')) return t.fail(String(err))
  t.deepEqual(err.context.tried, loader.candidates({ prefer: 'cuda' }))
  t.true(err.message.includes('npm run build:cuda'), err.message)
})
