// In-memory shapes of a quantized model (docs/engine-spec.md). These are what the
// model package reader produces, what the TypeScript reference kernel and the native
// addon consume, and what synthesis and GGUF import write. Matrices are row-major
// [rows = output features][cols = input features], as in GGUF.

/** Architecture dimensions. `dim` and `headDim · heads` must be multiples of 32. */
export interface ModelDims {
  readonly vocab: number
  readonly dim: number
  readonly layers: number
  readonly heads: number
  readonly kvHeads: number
  readonly headDim: number
  readonly ffn: number
  /** Maximum positions (prompt + generated); the RoPE table has this many rows. */
  readonly context: number
}

/** A scale (m, x) = m · 2^x, 2^29 ≤ m < 2^31 (spec §1.1). */
export type Scale = readonly [m: number, x: number]

export interface ModelConfig {
  readonly architecture: 'llama'
  readonly dims: ModelDims
  /** Pairs rotated together: (2i, 2i+1) = llama.cpp NORM; (i, i+hd/2) = NEOX (Qwen). */
  readonly ropeStyle: 'adjacent' | 'halves'
  /** Informational: the table in the package is what the engine uses. */
  readonly ropeTheta: number
  /** round(eps · 2^32) for RMSNorm. */
  readonly epsQ32: number
  /** Scale of log2(e) / sqrt(headDim), spec §2.5. */
  readonly attnScale: Scale
}

/** int8 weights with one scale per output row and an optional Q16 bias. */
export interface QLinear {
  readonly rows: number
  readonly cols: number
  /** rows · cols int8. */
  readonly q: Int8Array
  /** rows · 2 int32: (m, x) per row. */
  readonly scales: Int32Array
  /** rows int32 Q16, when the layer has a bias (Qwen's q/k/v). */
  readonly bias?: Int32Array
}

export interface QLayer {
  /** Q16 gains, |g| < 2^23. */
  readonly attnNorm: Int32Array
  readonly wq: QLinear
  readonly wk: QLinear
  readonly wv: QLinear
  readonly wo: QLinear
  readonly ffnNorm: Int32Array
  readonly wGate: QLinear
  readonly wUp: QLinear
  readonly wDown: QLinear
}

/** The embedding table in boundary-activation form: one `bact` row per token. */
export interface QEmbedding {
  /** vocab · dim int8. */
  readonly q: Int8Array
  /** vocab · dim/32 int32 block scales. */
  readonly scales: Int32Array
}

/** Everything one shard needs: layers [start, end), plus the ends it owns. */
export interface ShardWeights {
  readonly config: ModelConfig
  readonly range: readonly [start: number, end: number]
  /** context · headDim/2 · 2 int32 Q15 (cos, sin). */
  readonly rope: Int32Array
  /** First shard only. */
  readonly embedding?: QEmbedding
  readonly layers: readonly QLayer[]
  /** Last shard only. */
  readonly outputNorm?: Int32Array
  readonly output?: QLinear
}

/** Boundary activations for T positions (spec §1.4). */
export interface BoundaryActs {
  readonly positions: number
  /** positions · dim int8. */
  readonly q: Int8Array
  /** positions · dim/32 int32. */
  readonly scales: Int32Array
}

/** A float model as synthesis or import produces it, before quantization. */
export interface FloatLinear {
  readonly rows: number
  readonly cols: number
  readonly w: Float32Array
  readonly bias?: Float32Array
}

export interface FloatLayer {
  readonly attnNorm: Float32Array
  readonly wq: FloatLinear
  readonly wk: FloatLinear
  readonly wv: FloatLinear
  readonly wo: FloatLinear
  readonly ffnNorm: Float32Array
  readonly wGate: FloatLinear
  readonly wUp: FloatLinear
  readonly wDown: FloatLinear
}

export interface FloatModelConfig {
  readonly dims: ModelDims
  readonly ropeStyle: 'adjacent' | 'halves'
  readonly ropeTheta: number
  readonly eps: number
}

export interface FloatModel {
  readonly config: FloatModelConfig
  /** vocab · dim */
  readonly embedding: Float32Array
  readonly layers: readonly FloatLayer[]
  readonly outputNorm: Float32Array
  readonly output: FloatLinear
}
