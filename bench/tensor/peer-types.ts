// The small parts of the peers' APIs this suite uses, typed by hand: the peers live in
// bench/.peers (not the product's node_modules), so their own .d.ts files are not
// visible to the product's tsc.

export interface OrtTensor {
  readonly data: ArrayLike<number>
  readonly dims: readonly number[]
}

export interface OrtSession {
  run: (feeds: Record<string, OrtTensor>) => Promise<Record<string, OrtTensor>>
  release: () => Promise<void>
}

export interface OrtSessionOptions {
  intraOpNumThreads?: number
  interOpNumThreads?: number
  executionMode?: 'sequential' | 'parallel'
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all'
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4
}

export interface Ort {
  InferenceSession: { create: (model: Uint8Array, options?: OrtSessionOptions) => Promise<OrtSession> }
  Tensor: new (type: 'uint8' | 'int8' | 'int32' | 'float32', data: Uint8Array | Int8Array | Int32Array | Float32Array, dims: readonly number[]) => OrtTensor
  env: { versions?: Record<string, string> }
}

export type LlamaToken = number

export interface LlamaControlledOutput {
  next: { token?: LlamaToken | null, logits?: Map<LlamaToken, number> }
}

export interface LlamaContextSequence {
  readonly nextTokenIndex: number
  evaluateWithoutGeneratingNewTokens: (tokens: LlamaToken[]) => Promise<void>
  evaluate: (tokens: LlamaToken[], options?: { temperature?: number }) => AsyncGenerator<LlamaToken, void, void | LlamaToken | LlamaToken[]>
  controlledEvaluate: (input: Array<LlamaToken | [LlamaToken, { generateNext?: { token?: boolean, logits?: boolean, options?: { temperature?: number } } }]>) => Promise<Array<undefined | LlamaControlledOutput>>
  clearHistory: () => Promise<void>
  dispose: () => void
}

export interface LlamaContext {
  getSequence: () => LlamaContextSequence
  dispose: () => Promise<void>
}

export interface LlamaModel {
  createContext: (options: { contextSize?: number, batchSize?: number, threads?: number | { ideal?: number, min?: number }, sequences?: number, flashAttention?: boolean }) => Promise<LlamaContext>
  dispose: () => Promise<void>
  readonly fileInfo?: unknown
}

export interface Llama {
  loadModel: (options: { modelPath: string, gpuLayers?: number | 'auto', useMmap?: boolean }) => Promise<LlamaModel>
  readonly gpu: string | false
  readonly buildType?: string
  readonly cpuMathCores?: number
  readonly maxThreads: number
  readonly systemInfo?: string
  dispose: () => Promise<void>
}

export interface LlamaCpp {
  getLlama: (options?: { gpu?: false | 'auto', build?: 'never' | 'auto', skipDownload?: boolean, progressLogs?: boolean, logLevel?: string, maxThreads?: number, usePrebuiltBinaries?: boolean }) => Promise<Llama>
  LlamaLogLevel?: Record<string, string>
}
