// A minimal ONNX protobuf writer: just enough to build one-node MatMulInteger
// models in code (no download, no onnx package). Field numbers are from onnx.proto
// (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto, TypeProto).

/** ONNX TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6 } as const

class PbWriter {
  private readonly parts: Uint8Array[] = []
  private size = 0

  private push (b: Uint8Array): void { this.parts.push(b); this.size += b.length }

  private varint (v: number | bigint): void {
    let x = BigInt(v)
    if (x < 0n) x += 1n << 64n // int64 negatives: two's complement, 10 bytes
    const out: number[] = []
    do {
      let byte = Number(x & 0x7fn)
      x >>= 7n
      if (x !== 0n) byte |= 0x80
      out.push(byte)
    } while (x !== 0n)
    this.push(Uint8Array.from(out))
  }

  private tag (field: number, wire: number): void { this.varint((field << 3) | wire) }

  int (field: number, v: number | bigint): this { this.tag(field, 0); this.varint(v); return this }

  bytes (field: number, b: Uint8Array): this { this.tag(field, 2); this.varint(b.length); this.push(b); return this }

  string (field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)) }

  message (field: number, w: PbWriter): this { return this.bytes(field, w.finish()) }

  finish (): Uint8Array {
    const out = new Uint8Array(this.size)
    let o = 0
    for (const p of this.parts) { out.set(p, o); o += p.length }
    return out
  }
}

const pb = (): PbWriter => new PbWriter()

function valueInfo (name: string, elemType: number, dims: number[]): PbWriter {
  const shape = pb()
  for (const d of dims) shape.message(1, pb().int(1, d)) // TensorShapeProto.dim { dim_value }
  const tensorType = pb().int(1, elemType).message(2, shape) // TypeProto.Tensor
  return pb().string(1, name).message(2, pb().message(1, tensorType)) // ValueInfoProto { name, type { tensor_type } }
}

function tensor (name: string, elemType: number, dims: number[], raw: Uint8Array): PbWriter {
  const t = pb()
  for (const d of dims) t.int(1, d)
  return t.int(2, elemType).string(8, name).bytes(9, raw) // dims, data_type, name, raw_data
}

export interface MatMulIntegerModel {
  /** Serialized ModelProto. */
  bytes: Uint8Array
  /** Input name of A (uint8 [M, K]). */
  input: string
  /** Output names: `copies` independent products of the same A and B. */
  outputs: string[]
}

/**
 * Y_r = MatMulInteger(A, B) for r < copies, with A a uint8 [M, K] input and B an
 * int8 [K, N] initializer (constant weights, as in a model: ONNX Runtime may prepack
 * them), zero points omitted (= 0). `copies` > 1 runs the same product several times
 * in one session.run, which spreads the per-call overhead for small shapes.
 * With `bKN` null, B is a second graph input instead (fed on every run).
 */
export function matMulIntegerModel (m: number, n: number, k: number, bKN: Int8Array | null, copies = 1): MatMulIntegerModel {
  if (bKN !== null && bKN.length !== k * n) throw new Error(`B has ${bKN.length} values, expected ${k * n}`)
  const graph = pb()
  const outputs: string[] = []
  for (let r = 0; r < copies; r++) {
    const y = `Y${r}`
    outputs.push(y)
    // NodeProto: input A, input B, output, name, op_type
    graph.message(1, pb().string(1, 'A').string(1, 'B').string(2, y).string(3, `mm${r}`).string(4, 'MatMulInteger'))
  }
  graph.string(2, 'matmulinteger')
  if (bKN !== null) graph.message(5, tensor('B', DT.INT8, [k, n], new Uint8Array(bKN.buffer, bKN.byteOffset, bKN.byteLength)))
  graph.message(11, valueInfo('A', DT.UINT8, [m, k]))
  if (bKN === null) graph.message(11, valueInfo('B', DT.INT8, [k, n]))
  for (const y of outputs) graph.message(12, valueInfo(y, DT.INT32, [m, n]))
  const model = pb()
    .int(1, 8) // ir_version 8
    .string(2, 'verimesh-bench')
    .message(7, graph)
    .message(8, pb().string(1, '').int(2, 13)) // opset_import { domain "", version 13 }
  return { bytes: model.finish(), input: 'A', outputs }
}

/** Transpose a row-major [rows][cols] int8 matrix. */
export function transposeI8 (src: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const base = r * cols
    for (let c = 0; c < cols; c++) out[c * rows + r] = src[base + c]
  }
  return out
}
