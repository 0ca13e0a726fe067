// llama.cpp (node-llama-cpp) in its own process, driven over IPC by llm.ts.
//
// Why a separate process: node-llama-cpp and the Verimesh addon both compute on libuv's
// worker threads. ggml's AMX kernels configure the tile registers once per thread and
// remember that in a thread_local flag; when the Verimesh AMX kernel later runs on the
// same libuv thread and releases its tiles (tilerelease, as it should), ggml's next
// tilezero on that thread faults with SIGILL (seen here: tinygemm_kernel_amx<block_q8_0>).
// Separate processes also keep llama.cpp's spin-waiting threads out of Verimesh's timings.
// Timings are taken in this process around the node-llama-cpp calls, so IPC is excluded.

import { loadLlama } from './peers.js'
import type { Llama, LlamaContextSequence, LlamaModel } from './peer-types.js'

export type ChildRequest =
  | { id: number, cmd: 'open', gguf: string }
  | { id: number, cmd: 'run', threads: number, prompt: number[], gen: number }
  | { id: number, cmd: 'logits', tokens: number[], vocab: number }
  | { id: number, cmd: 'close' }

export type ChildReply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }

let llama: Llama | undefined
let model: LlamaModel | undefined
const contexts = new Map<number, { seq: LlamaContextSequence, dispose: () => Promise<void> }>()
const greedy = { temperature: 0 }
const log = (msg: string): void => { process.stderr.write(`[tensor/llama.cpp] ${msg}\n`) }

async function seqFor (threads: number): Promise<LlamaContextSequence> {
  let c = contexts.get(threads)
  if (c === undefined) {
    const context = await model!.createContext({ contextSize: 256, batchSize: 128, threads: { ideal: threads, min: threads }, sequences: 1 })
    c = { seq: context.getSequence(), dispose: async () => { await context.dispose() } }
    contexts.set(threads, c)
  }
  return c.seq
}

async function handle (req: ChildRequest): Promise<unknown> {
  switch (req.cmd) {
    case 'open': {
      const peer = await loadLlama(log)
      if (peer.mod === undefined) throw new Error(peer.reason ?? 'node-llama-cpp unavailable')
      llama = await peer.mod.getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, logLevel: 'error', maxThreads: 2 })
      model = await llama.loadModel({ modelPath: req.gguf, gpuLayers: 0 })
      return { version: peer.version ?? '?', systemInfo: String(llama.systemInfo ?? '') }
    }
    case 'run': {
      const seq = await seqFor(req.threads)
      await seq.clearHistory()
      const { prompt, gen } = req
      const input = prompt.map((t, i) => i === prompt.length - 1 ? [t, { generateNext: { token: true, options: greedy } }] as [number, { generateNext: { token: boolean, options: typeof greedy } }] : t)
      const t0 = process.hrtime.bigint()
      const first = await seq.controlledEvaluate(input)
      const t1 = process.hrtime.bigint()
      let tok = first[prompt.length - 1]?.next.token
      if (typeof tok !== 'number') throw new Error('llama.cpp returned no token after the prompt')
      const tokens = [tok]
      for (let i = 0; i < gen; i++) {
        const out = await seq.controlledEvaluate([[tok, { generateNext: { token: true, options: greedy } }]])
        const next = out[0]?.next.token
        if (typeof next !== 'number') throw new Error(`llama.cpp returned no token at step ${i}`)
        tok = next
        tokens.push(tok)
      }
      const t2 = process.hrtime.bigint()
      return { prefillSeconds: Number(t1 - t0) / 1e9, decodeSeconds: Number(t2 - t1) / 1e9, tokens }
    }
    case 'logits': {
      const seq = await seqFor(1)
      await seq.clearHistory()
      const out = await seq.controlledEvaluate(req.tokens.map(t => [t, { generateNext: { logits: true } }] as [number, { generateNext: { logits: boolean } }]))
      return out.map((o, i) => {
        const map = o?.next.logits
        if (map === undefined) throw new Error(`llama.cpp returned no logits at position ${i}`)
        const v = new Float64Array(req.vocab).fill(-Infinity)
        for (const [t, l] of map) v[t] = l
        return v
      })
    }
    case 'close': {
      for (const c of contexts.values()) await c.dispose()
      contexts.clear()
      await model?.dispose()
      await llama?.dispose()
      setImmediate(() => process.exit(0))
      return null
    }
  }
}

process.on('message', (req: ChildRequest) => {
  handle(req).then(
    (result) => { process.send!({ id: req.id, ok: true, result } satisfies ChildReply) },
    (err: unknown) => { process.send!({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies ChildReply) }
  )
})
process.on('disconnect', () => { process.exit(0) })
