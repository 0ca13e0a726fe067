// Loader for the native addon (verimesh_native). Two builds of the same
// sources may exist side by side:
//   build/Release/verimesh_native.node       CPU only, built by `npm install` (binding.gyp)
//   build-cuda/Release/verimesh_native.node  with CUDA, built by `npm run build:cuda` (CMakeLists.txt)
// Callers ask for a preference; the loader says which one it got (`path`,
// `capabilities().build.cuda`) or fails with ADDON_UNAVAILABLE and every reason.

import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BoundaryActs, ShardWeights } from '../actors/engine/int/types.js'
import { VerimeshError } from './errors.js'

export const ADDON_FILE = 'verimesh_native.node'
const NOT_FOUND = 'not found'

export interface CpuFeatureFlags {
  sse42: boolean
  avx2: boolean
  fma: boolean
  avx512f: boolean
  avx512bw: boolean
  avx512vl: boolean
  avx512vnni: boolean
  avxvnni: boolean
  amxTile: boolean
  amxInt8: boolean
  amxBf16: boolean
}

/** Kernel tier the dispatch layer would pick on this host, best first: amx > avx512vnni > avx512 > avx2 > baseline. */
export type CpuTier = 'baseline' | 'avx2' | 'avx512' | 'avx512vnni' | 'amx'

export interface GpuDevice {
  index: number
  name: string
  /** "major.minor", e.g. "9.0" */
  computeCapability: string
  memoryBytes: number
  multiprocessors: number
}

export interface AddonCapabilities {
  /** package.json version the addon was built from */
  version: string
  build: {
    tool: 'node-gyp' | 'cmake-js'
    /** e.g. "gcc 12.2.0" */
    compiler: string
    /** instruction-set baseline the addon is compiled for, e.g. "x86-64-v2" */
    arch: string
    flags: string
    napiVersion: number
    /** compiled with CUDA (the cmake-js build with -DVERIMESH_CUDA=ON) */
    cuda: boolean
    /** CUDA runtime compiled in, e.g. "13.0"; null without CUDA */
    cudaVersion: string | null
    /** CMake CUDA architectures, e.g. ["80-real", "90-real", "90-virtual"] */
    cudaArchitectures: string[]
  }
  cpu: {
    vendor: string
    brand: string
    logicalCores: number
    /** usable by this process: CPUID bit set and register state enabled by the OS */
    features: CpuFeatureFlags
    /** register state the OS has enabled (XCR0); explains a feature the CPU has but may not be used */
    osEnabled: { avx: boolean, avx512: boolean, amx: boolean, xcr0: string }
    /** AMX tile data permission granted to this process (Linux ARCH_REQ_XCOMP_PERM) */
    amxUsable: boolean
    /** why amxUsable is false; empty when usable */
    amxReason: string
    tier: CpuTier
  }
  gpu: {
    present: boolean
    /** why no GPU is usable ('addon built without CUDA', 'cudaGetDeviceCount failed: … (35)', 'no CUDA devices'); empty when present */
    reason: string
    /** CUDA driver version, e.g. "13.0"; null without a driver or without CUDA */
    driverVersion: string | null
    devices: GpuDevice[]
  }
}

export interface GpuSelfTestResult {
  ok: boolean
  reason: string
}

/** CPU int8 GEMM paths of the engine; 'auto' picks the best usable one (`kernels()`, best last). */
export type EngineKernel = 'scalar' | 'avx2' | 'avx512vnni' | 'amx'

export interface NativeShardOptions {
  /** Threads of the process-wide engine pool this shard uses (0 or absent: hardware concurrency; at most 256). */
  threads?: number
  /** Forces one GEMM path (tests, benchmarks); an unknown name or one this CPU cannot run throws. Default 'auto'. */
  kernel?: EngineKernel | 'auto'
}

export type NativeShardInput =
  | { readonly kind: 'tokens', readonly tokens: Int32Array }
  | { readonly kind: 'acts', readonly acts: BoundaryActs }

export interface NativeShardOutput {
  acts: BoundaryActs
  /** Last shard only: int32 Q16 logits of the last position. */
  logits?: Int32Array
}

/**
 * One shard of the integer engine (docs/engine-spec.md) in C++, byte-identical to
 * ReferenceShard. The constructor copies and repacks the weights. Errors are JS Errors
 * with a `code`: MODEL_INVALID (weights), CONFIG_INVALID (options), ENGINE_INPUT_INVALID
 * (a step), INTERNAL.
 */
export interface NativeShard {
  /**
   * The GEMM path in use, e.g. 'amx'. With 'auto' on an AMX host this is 'amx', and products
   * of fewer than 8 rows (decode steps) run on avx512vnni over the same packed weights.
   */
  readonly kernel: EngineKernel
  readonly threads: number
  readonly closed: boolean
  /** Positions [pos, pos + n) of `session`, synchronously (blocks the event loop: tests only). */
  forward: (session: string, pos: number, input: NativeShardInput) => NativeShardOutput
  /** Same on a libuv worker thread; a shard's calls run one at a time in call order; never throws, rejects. */
  forwardAsync: (session: string, pos: number, input: NativeShardInput) => Promise<NativeShardOutput>
  endSession: (session: string) => void
  /** Cached positions of `session` (0 when unknown). */
  sessionLength: (session: string) => number
  /** Frees the weights and caches (after an in-flight forwardAsync settles). Idempotent. */
  close: () => void
}

export type NativeShardConstructor = new (weights: ShardWeights, opts?: NativeShardOptions) => NativeShard

/** snarkjs's Groth16 proof JSON (decimal strings, affine coordinates). */
export interface Groth16ProofJson {
  pi_a: [string, string, string]
  pi_b: [[string, string], [string, string], [string, string]]
  pi_c: [string, string, string]
  protocol: 'groth16'
  curve: 'bn128'
}

export interface ZkProveResult {
  proof: Groth16ProofJson
  /** witness[1..nPublic], decimal */
  publicSignals: string[]
  timings: { witnessMs: number, abcMs: number, nttMs: number, msmMs: number, totalMs: number }
  threads: number
  /** Montgomery multiplication in use: 'adx' (mulx/adcx/adox) or 'int128' (portable) */
  kernel: string
  /** Where the coset NTTs and MSMs ran: 'cuda' (CUDA build, GPU 0) or 'cpu' */
  backend: 'cpu' | 'cuda'
  /** Why a requested GPU ('cuda' / 'auto') was not used; '' otherwise */
  backendFallback: string
}

/**
 * `backend` (default 'cpu'): 'cuda' or 'auto' run the coset NTTs and MSMs on the GPU in the
 * CUDA build when one is usable, else on the CPU with the reason in `backendFallback`.
 * Proofs are the same either way (native/cuda/README.md, "Prover kernels").
 */
export interface ZkProveOptions { threads?: number, backend?: 'cpu' | 'cuda' | 'auto' }

/**
 * Native Groth16 prover over BN254 for one snarkjs .zkey (docs/prover.md). Errors are JS
 * Errors with a `code`: ZK_IO, ZK_BAD_MAGIC, ZK_BAD_VERSION, ZK_TRUNCATED, ZK_BAD_SECTION,
 * ZK_WRONG_CURVE, ZK_MISMATCH (witness from another circuit), ZK_BAD_INPUT, ZK_CLOSED, INTERNAL.
 */
export interface ZkProver {
  /** Proves on a libuv worker thread; `wtns` is the bytes of a .wtns file. `threads` 0/absent: all cores. */
  prove: (wtns: Uint8Array, opts?: ZkProveOptions) => Promise<ZkProveResult>
  /** tableBytes: memory of the fixed-base MSM tables; loadMs / tablesMs: reading + validating, building the tables */
  info: () => { nVars: number, nPublic: number, domainSize: number, nCoefficients: number, tableBytes: number, loadMs: number, tablesMs: number }
  /** Drops the proving key (an in-flight prove keeps its own reference). Idempotent. */
  close: () => void
  readonly closed: boolean
}

export interface ZkProverLoadOptions {
  /**
   * Precompute fixed-base MSM tables (2^(c·j)·P for every window j; default true). They make
   * each proof's MSMs cheaper (one bucket reduction instead of one per window) at the price of
   * load time and memory; a table over `tableMaxMB` is skipped and that MSM runs without one.
   */
  tables?: boolean
  /** Cap per table (five tables: A, B1, B2, C, H), MiB; default 80 (all of a 2^12 circuit; the four G1 tables of a 2^16 one, about 285 MB). */
  tableMaxMB?: number
}

export interface ZkProverConstructor {
  /** Loads and validates the .zkey synchronously (blocks the event loop). */
  new (zkeyPath: string, opts?: ZkProverLoadOptions): ZkProver
  /** Loads and validates the .zkey (and builds the tables) on a worker thread. */
  load: (zkeyPath: string, opts?: ZkProverLoadOptions) => Promise<ZkProver>
}

export interface ZkBenchResult { ms: number, n: number, threads: number, kernel: string }
export interface ZkMsmBenchResult extends ZkBenchResult { group: 'g1' | 'g2', pointsPerSec: number, glv?: boolean }

/** Decimal-string view of the prover's arithmetic. Test-only: synchronous, small inputs. */
export type ZkG1Point = [string, string]
export type ZkFq2 = [string, string]
export type ZkG2Point = [ZkFq2, ZkFq2]
export interface ZkTestHooks {
  field: (field: 'fq' | 'fr', op: 'add' | 'sub' | 'mul' | 'sqr' | 'neg' | 'inv' | 'pow' | 'eq' | 'bytes' | 'mont', a: string, b?: string) => string | boolean
  fq2: (op: 'add' | 'sub' | 'mul' | 'sqr' | 'neg' | 'inv' | 'conj' | 'mulByXi', a: ZkFq2, b?: ZkFq2) => ZkFq2
  /** ops: generator, onCurve, neg, dbl, add, addMixed, eq, mul (q = scalar), batchAffine (p = points), msm (p = points, q = scalars, then options; window 2..15 forces the window width; glv true/false forces the GLV / plain path) */
  g1: (op: string, p?: unknown, q?: unknown, opts?: { threads?: number, window?: number, glv?: boolean }) => unknown
  g2: (op: string, p?: unknown, q?: unknown, opts?: { threads?: number, window?: number, glv?: boolean }) => unknown
  ntt: (values: string[], inverse: boolean, opts?: { threads?: number }) => string[]
  /** G1 GLV split of k < r: [k1, k2, λ] as signed decimals, k ≡ k1 + λ·k2 (mod r), |k1|, |k2| < 2^128. */
  glvDecompose: (k: string) => [string, string, string]
  /** ffjavascript's Fr.w[k] */
  rootOfUnity: (k: number) => string
  /** Switches the Montgomery multiplication ('adx' needs BMI2 + ADX); false when this CPU cannot run it. */
  setMulKernel: (kernel: 'adx' | 'int128') => boolean
  mulKernel: () => 'adx' | 'int128'
}

export interface ZkSetupDevOptions {
  /** secrets = SHA-256 of this seed (docs/prover.md); default 'verimesh-devnet' */
  seed?: string
  /** explicit toxic waste, decimal strings in [1, r), instead of a seed (to reproduce another tool's setup) */
  secrets?: { tau: string, alpha: string, beta: string, gamma: string, delta: string }
  /** 0 or absent: every core */
  threads?: number
}

export interface ZkSetupDevResult {
  nConstraints: number
  nVars: number
  /** public outputs + public inputs (snarkjs's nPublic) */
  nPublic: number
  domainSize: number
  ms: number
  threads: number
  /** always true: the secrets are derived from a public seed */
  insecure: true
  notice: string
}

/** snarkjs's verification key JSON (`snarkjs zkey export verificationkey`), BN254 Groth16. */
export interface Groth16VerificationKeyJson {
  protocol: 'groth16'
  curve: 'bn128'
  nPublic: number
  vk_alpha_1: string[]
  vk_beta_2: string[][]
  vk_gamma_2: string[][]
  vk_delta_2: string[][]
  IC: string[][]
  [extra: string]: unknown
}

export interface ZkVerifyResult { valid: boolean, ms: number }

/** CUDA build only: whether the prover's GPU kernels can run here (native/cuda/README.md, "Prover kernels"). */
export interface ZkCudaStatus { available: boolean, reason: string, device: string }
/** One GPU-vs-CPU comparison of the prover's kernels on seeded inputs. */
export interface ZkCudaCheckResult { equal: boolean, detail: string, summary: string, cpuMs: number, gpuMs: number }
export type ZkCudaCheckKind = 'msm_g1' | 'msm_g2' | 'ntt'

/** The raw exports of the .node file. */
interface NativeExports {
  capabilities: () => AddonCapabilities
  gpuSelfTest: (device?: number) => GpuSelfTestResult
  NativeShard: NativeShardConstructor
  gemmS8: (a: Int8Array, w: Int8Array, m: number, n: number, k: number, kernel?: EngineKernel | 'auto', threads?: number) => Int32Array
  gemmS8Bench: (m: number, n: number, k: number, kernel: EngineKernel | 'auto', threads: number, iters: number) => number
  kernels: () => EngineKernel[]
  ZkProver: ZkProverConstructor
  zkMsmBench: (n: number, opts?: { threads?: number, group?: 'g1' | 'g2', glv?: boolean }) => Promise<ZkMsmBenchResult>
  zkNttBench: (log2n: number, opts?: { threads?: number }) => Promise<ZkBenchResult>
  zkTest: ZkTestHooks
  zkSetupDev: (r1csPath: string, zkeyPath: string, opts?: ZkSetupDevOptions) => Promise<ZkSetupDevResult>
  zkVerify: (vk: Groth16VerificationKeyJson, proof: Groth16ProofJson, publicSignals: string[]) => ZkVerifyResult
  zkPairing: (g1: ZkG1Point, g2: ZkG2Point) => string[]
  zkCudaStatus: () => ZkCudaStatus
  zkCudaCheck: (kind: ZkCudaCheckKind, size: number, seed?: number, pattern?: string, threads?: number) => Promise<ZkCudaCheckResult>
}

export interface VerimeshAddon {
  /** absolute path of the loaded .node file */
  readonly path: string
  capabilities: () => AddonCapabilities
  /** Runs a one-thread kernel on `device` (default 0): proves the binary has code this GPU can run. */
  gpuSelfTest: (device?: number) => GpuSelfTestResult
  /** The engine's shard runner; absent in a build older than the engine. */
  NativeShard?: NativeShardConstructor
  /**
   * C[m][n] = Σ_k a[m][k]·w[n][k] (int8 × int8 → int32) with one GEMM path (default 'auto')
   * on `threads` threads (default: hardware concurrency). Packs `w` on every call.
   */
  gemmS8?: (a: Int8Array, w: Int8Array, m: number, n: number, k: number, kernel?: EngineKernel | 'auto', threads?: number) => Int32Array
  /** Seconds for `iters` GEMMs of seeded operands (weights packed once, one untimed warm-up). */
  gemmS8Bench?: (m: number, n: number, k: number, kernel: EngineKernel | 'auto', threads: number, iters: number) => number
  /** GEMM paths this CPU can run, best last. */
  kernels?: () => EngineKernel[]
  /** Native Groth16 prover (BN254, snarkjs .zkey/.wtns); absent in a build older than it. */
  ZkProver?: ZkProverConstructor
  /** Pippenger MSM on n seeded points/scalars (inputs untimed). */
  zkMsmBench?: (n: number, opts?: { threads?: number, group?: 'g1' | 'g2', glv?: boolean }) => Promise<ZkMsmBenchResult>
  /** One forward NTT of 2^log2n elements over Fr. */
  zkNttBench?: (log2n: number, opts?: { threads?: number }) => Promise<ZkBenchResult>
  /** Test-only arithmetic hooks. */
  zkTest?: ZkTestHooks
  /**
   * INSECURE development setup (docs/prover.md): .r1cs -> Groth16 .zkey (snarkjs format) from
   * secrets derived from `seed` (default 'verimesh-devnet'), on a worker thread. Errors carry a
   * `code`: ZK_IO, ZK_BAD_MAGIC, ZK_BAD_VERSION, ZK_TRUNCATED, ZK_BAD_SECTION, ZK_WRONG_CURVE,
   * ZK_BAD_R1CS, ZK_TOO_LARGE, ZK_BAD_INPUT.
   */
  zkSetupDev?: (r1csPath: string, zkeyPath: string, opts?: ZkSetupDevOptions) => Promise<ZkSetupDevResult>
  /**
   * Native Groth16 verification (synchronous). Malformed input throws with a `code`:
   * ZK_BAD_VK_SHAPE, ZK_BAD_PROOF_SHAPE, ZK_WRONG_CURVE, ZK_COORD_OUT_OF_RANGE, ZK_NOT_ON_CURVE,
   * ZK_NOT_IN_SUBGROUP, ZK_PUBLIC_COUNT, ZK_PUBLIC_OUT_OF_RANGE; a well-formed proof that
   * does not verify gives `valid: false`.
   */
  zkVerify?: (vk: Groth16VerificationKeyJson, proof: Groth16ProofJson, publicSignals: string[]) => ZkVerifyResult
  /** e(P, Q) as 12 decimal Fq coefficients (c0.c0.c0, c0.c0.c1, …, c1.c2.c1); a diagnostic for tests. */
  zkPairing?: (g1: ZkG1Point, g2: ZkG2Point) => string[]
  /** CUDA build only: whether the prover's MSM/NTT kernels can run on GPU 0, and if not why. */
  zkCudaStatus?: () => ZkCudaStatus
  /**
   * CUDA build only (a test hook): seeded inputs through the GPU kernels and the CPU prover,
   * compared byte for byte. `size` is n for 'msm_g1'/'msm_g2' (≤ 2^24), log2 n for 'ntt' (≤ 24);
   * `pattern` 'random' | 'mixed' (default) | 'ones' | 'zeros'. Throws ZK_CUDA_UNAVAILABLE without a GPU.
   */
  zkCudaCheck?: (kind: ZkCudaCheckKind, size: number, seed?: number, pattern?: string, threads?: number) => Promise<ZkCudaCheckResult>
}

export interface LoadAddonOptions {
  /** 'cuda' tries build-cuda/Release first and, if that build is absent, the CPU build; default 'cpu' */
  prefer?: 'cuda' | 'cpu'
  /** load exactly this file; no fallback */
  path?: string
}

/** Nearest ancestor of this module holding package.json: the repository or installed package root. */
function findPackageRoot (fromDir: string): string {
  let dir = fromDir
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return fromDir
    dir = parent
  }
}

/**
 * Finds, loads and caches addon builds. Caching is per resolved path: Node's
 * require cache would return the same module anyway, this also keeps the
 * typed wrapper and skips the existence checks.
 */
export class AddonLoader {
  readonly root: string
  private readonly cache = new Map<string, VerimeshAddon>()
  private readonly require = createRequire(import.meta.url)

  constructor (root: string = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)))) {
    this.root = root
  }

  /** Paths tried, in order, for the given options. */
  candidates (opts: LoadAddonOptions = {}): string[] {
    if (opts.path !== undefined) return [path.resolve(opts.path)]
    const cpu = path.join(this.root, 'build', 'Release', ADDON_FILE)
    const cuda = path.join(this.root, 'build-cuda', 'Release', ADDON_FILE)
    return opts.prefer === 'cuda' ? [cuda, cpu] : [cpu]
  }

  load (opts: LoadAddonOptions = {}): VerimeshAddon {
    const failures: Array<{ path: string, reason: string }> = []
    for (const file of this.candidates(opts)) {
      const cached = this.cache.get(file)
      if (cached !== undefined) return cached
      const result = this.tryLoad(file)
      if (typeof result !== 'string') {
        this.cache.set(file, result)
        return result
      }
      failures.push({ path: file, reason: result })
      // Fall back only past a build that is absent. One that exists but will not
      // load is broken, and quietly running on the CPU instead would hide that.
      if (result !== NOT_FOUND) break
    }
    const hint = opts.path !== undefined
      ? ''
      : ' (build it with `npm install` or `npx node-gyp rebuild`' + (opts.prefer === 'cuda' ? '; the CUDA build with `npm run build:cuda`' : '') + ')'
    const detail = failures.map(f => `${f.path}: ${f.reason}`).join('; ')
    throw new VerimeshError('ADDON_UNAVAILABLE', `native addon unavailable: ${detail}${hint}`, {
      tried: failures.map(f => f.path),
      failures
    })
  }

  /** The loaded addon, or the reason it could not be loaded. */
  private tryLoad (file: string): VerimeshAddon | string {
    if (!existsSync(file)) return NOT_FOUND
    let native: Partial<NativeExports>
    try {
      native = this.require(file) as Partial<NativeExports>
    } catch (err) {
      // dlopen failures: wrong architecture, missing shared library, unresolved symbol
      return `failed to load: ${err instanceof Error ? err.message : String(err)}`
    }
    const { capabilities, gpuSelfTest } = native
    if (typeof capabilities !== 'function' || typeof gpuSelfTest !== 'function') {
      return 'not a verimesh_native addon (capabilities/gpuSelfTest missing)'
    }
    const { NativeShard, gemmS8, gemmS8Bench, kernels, ZkProver, zkMsmBench, zkNttBench, zkTest, zkSetupDev, zkVerify, zkPairing, zkCudaStatus, zkCudaCheck } = native
    return {
      path: file,
      capabilities: () => capabilities(),
      gpuSelfTest: (device?: number) => gpuSelfTest(device),
      ...(typeof NativeShard === 'function' ? { NativeShard } : {}),
      ...(typeof gemmS8 === 'function' ? { gemmS8 } : {}),
      ...(typeof gemmS8Bench === 'function' ? { gemmS8Bench } : {}),
      ...(typeof kernels === 'function' ? { kernels } : {}),
      ...(typeof ZkProver === 'function' ? { ZkProver } : {}),
      ...(typeof zkMsmBench === 'function' ? { zkMsmBench } : {}),
      ...(typeof zkNttBench === 'function' ? { zkNttBench } : {}),
      ...(typeof zkTest === 'object' && zkTest !== null ? { zkTest } : {}),
      ...(typeof zkSetupDev === 'function' ? { zkSetupDev } : {}),
      ...(typeof zkVerify === 'function' ? { zkVerify } : {}),
      ...(typeof zkPairing === 'function' ? { zkPairing } : {}),
      ...(typeof zkCudaStatus === 'function' ? { zkCudaStatus } : {}),
      ...(typeof zkCudaCheck === 'function' ? { zkCudaCheck } : {})
    }
  }
}

const defaultLoader = new AddonLoader()

/** Loads the addon from the package's build folders (or `opts.path`); throws VerimeshError ADDON_UNAVAILABLE. */
export function loadAddon (opts: LoadAddonOptions = {}): VerimeshAddon {
  return defaultLoader.load(opts)
}

/** Capabilities of the addon loadAddon(opts) selects. */
export function capabilities (opts: LoadAddonOptions = {}): AddonCapabilities {
  return loadAddon(opts).capabilities()
}
