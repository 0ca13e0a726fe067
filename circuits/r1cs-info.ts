// The header of a circom .r1cs file (section 1), read without loading snarkjs.

import { open } from 'node:fs/promises'
import { VerimeshError } from '../runtime/errors.js'

export interface R1csInfo {
  readonly nConstraints: number
  readonly nWires: number
  readonly nPubOut: number
  readonly nPubIn: number
  readonly nPrvIn: number
  readonly nLabels: number
}

export async function readR1csInfo (file: string): Promise<R1csInfo> {
  const fh = await open(file, 'r')
  try {
    const head = Buffer.alloc(12)
    await fh.read(head, 0, 12, 0)
    if (head.toString('latin1', 0, 4) !== 'r1cs') throw new VerimeshError('CONFIG_INVALID', `${file} is not an .r1cs file`, { file })
    const nSections = head.readUInt32LE(8)
    let pos = 12
    for (let s = 0; s < nSections; s++) {
      const sh = Buffer.alloc(12)
      await fh.read(sh, 0, 12, pos)
      const id = sh.readUInt32LE(0)
      const size = Number(sh.readBigUInt64LE(4))
      if (id === 1) {
        const body = Buffer.alloc(Math.min(size, 128))
        await fh.read(body, 0, body.length, pos + 12)
        const n8 = body.readUInt32LE(0)
        let o = 4 + n8
        const nWires = body.readUInt32LE(o); o += 4
        const nPubOut = body.readUInt32LE(o); o += 4
        const nPubIn = body.readUInt32LE(o); o += 4
        const nPrvIn = body.readUInt32LE(o); o += 4
        const nLabels = Number(body.readBigUInt64LE(o)); o += 8
        const nConstraints = body.readUInt32LE(o)
        return { nConstraints, nWires, nPubOut, nPubIn, nPrvIn, nLabels }
      }
      pos += 12 + size
    }
    throw new VerimeshError('CONFIG_INVALID', `${file} has no header section`, { file })
  } finally {
    await fh.close()
  }
}
