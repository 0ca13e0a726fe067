// Positional file I/O in bounded chunks: model files are larger than what one read(2)
// or one Buffer should carry, and nothing here may hold a whole file in memory.

import type { FileHandle } from 'node:fs/promises'
import { VerimeshError } from '../../../runtime/errors.js'

/** Largest single read/write; also bounds the scratch memory of streaming copies. */
export const IO_CHUNK = 16 * 1024 * 1024

/** Fills `buf` from `pos`, failing (MODEL_CORRUPT) if the file ends first. */
export async function readExactly (fh: FileHandle, buf: Uint8Array, pos: number, file: string, what: string): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const n = Math.min(IO_CHUNK, buf.length - done)
    const { bytesRead } = await fh.read(buf, done, n, pos + done)
    if (bytesRead === 0) {
      throw new VerimeshError('MODEL_CORRUPT', `${file} is truncated: ${what} needs bytes [${pos}, ${pos + buf.length}) but the file ends at ${pos + done}`, { file, what, offset: pos, needed: buf.length, got: done })
    }
    done += bytesRead
  }
}

export async function writeAll (fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const n = Math.min(IO_CHUNK, buf.length - done)
    const { bytesWritten } = await fh.write(buf, done, n, pos + done)
    done += bytesWritten
  }
}

export function bytesOf (data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

export function alignUp (n: number, a: number): number {
  return Math.ceil(n / a) * a
}

/** Little-endian is assumed by every typed-array view of file bytes. */
export function assertLittleEndian (): void {
  if (new Uint8Array(Uint16Array.of(1).buffer)[0] !== 1) {
    throw new VerimeshError('MODEL_INVALID', 'model files are little-endian; this host is big-endian')
  }
}
