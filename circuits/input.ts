// Circuit inputs as circom's witness calculator takes them: signal name → decimal string,
// vector or matrix. Negative integers are passed as their field elements (p − x).

import { dec } from './field.js'

export type CircuitInput = Record<string, string | string[] | string[][]>

export function vec (values: ArrayLike<number | bigint>): string[] {
  return Array.from(values as ArrayLike<number | bigint>, (v) => dec(v))
}

export function mat (values: ArrayLike<number>, rows: number, cols: number): string[][] {
  return Array.from({ length: rows }, (_, r) => vec(Array.prototype.slice.call(values, r * cols, (r + 1) * cols) as number[]))
}
