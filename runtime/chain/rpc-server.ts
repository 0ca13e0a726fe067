// A minimal JSON-RPC 2.0 server over HTTP (node:http, no framework): single
// and batch requests (ethers batches whatever it sends within 10 ms),
// notifications, and JSON-RPC errors for malformed input. Method semantics
// live in methods.ts; this file only moves JSON.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

import { RpcCode, RpcError } from './rpc-error.js'

export type RpcDispatch = (method: string, params: unknown) => Promise<unknown>

export interface RpcServerOptions {
  host: string
  port: number
  /** Largest request body accepted, in bytes (default 16 MiB). */
  maxBodyBytes?: number
  /** Called with unexpected (non-RpcError) failures, which answer -32603. */
  onInternalError?: (err: unknown, method: string) => void
}

export interface RpcServer {
  url: string
  port: number
  close: () => Promise<void>
}

type Id = string | number | null

interface Reply {
  jsonrpc: '2.0'
  id: Id
  result?: unknown
  error?: { code: number, message: string, data?: unknown }
}

function errorReply (id: Id, err: RpcError): Reply {
  return { jsonrpc: '2.0', id, error: err.toJSON() }
}

// bigint cannot pass through JSON.stringify; handlers should have formatted
// them as hex already, so a stray one is hex-encoded rather than crashing.
function replacer (_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? '0x' + value.toString(16) : value
}

/** Answer one request object; undefined for a notification (no id). */
async function handleOne (req: unknown, dispatch: RpcDispatch, onInternalError?: RpcServerOptions['onInternalError']): Promise<Reply | undefined> {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) {
    return errorReply(null, new RpcError(RpcCode.INVALID_REQUEST, 'invalid request: expected an object'))
  }
  const { id, method, params, jsonrpc } = req as { id?: unknown, method?: unknown, params?: unknown, jsonrpc?: unknown }
  const isNotification = id === undefined
  const replyId: Id = typeof id === 'string' || typeof id === 'number' ? id : null
  if (jsonrpc !== '2.0' || typeof method !== 'string') {
    return errorReply(replyId, new RpcError(RpcCode.INVALID_REQUEST, 'invalid request: need jsonrpc "2.0" and a method name'))
  }
  try {
    const result = await dispatch(method, params)
    return isNotification ? undefined : { jsonrpc: '2.0', id: replyId, result: result === undefined ? null : result }
  } catch (err) {
    if (isNotification) return undefined
    if (err instanceof RpcError) return errorReply(replyId, err)
    onInternalError?.(err, method)
    return errorReply(replyId, new RpcError(RpcCode.INTERNAL, err instanceof Error ? err.message : String(err)))
  }
}

function send (res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body, replacer)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    // Lets browser tooling (wallets, block explorers) talk to a dev chain.
    'access-control-allow-origin': '*'
  })
  res.end(text)
}

async function readBody (req: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > limit) return undefined
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

export async function startRpcServer (dispatch: RpcDispatch, opts: RpcServerOptions): Promise<RpcServer> {
  const limit = opts.maxBodyBytes ?? 16 * 1024 * 1024

  const server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'POST', 'access-control-allow-headers': 'content-type' })
      res.end()
      return
    }
    if (req.method !== 'POST') {
      send(res, 405, errorReply(null, new RpcError(RpcCode.INVALID_REQUEST, 'use POST with a JSON-RPC body')))
      return
    }
    void (async () => {
      const text = await readBody(req, limit)
      if (text === undefined) {
        send(res, 413, errorReply(null, new RpcError(RpcCode.INVALID_REQUEST, `request body over ${limit} bytes`)))
        req.destroy()
        return
      }
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch {
        send(res, 200, errorReply(null, new RpcError(RpcCode.PARSE_ERROR, 'parse error: body is not JSON')))
        return
      }
      if (Array.isArray(body)) {
        if (body.length === 0) {
          send(res, 200, errorReply(null, new RpcError(RpcCode.INVALID_REQUEST, 'invalid request: empty batch')))
          return
        }
        // Entries start in order, so writes inside one batch reach the
        // node's queue in the order the client listed them.
        const replies = (await Promise.all(body.map((r) => handleOne(r, dispatch, opts.onInternalError)))).filter((r): r is Reply => r !== undefined)
        if (replies.length === 0) send(res, 204, undefined)
        else send(res, 200, replies)
        return
      }
      const reply = await handleOne(body, dispatch, opts.onInternalError)
      if (reply === undefined) send(res, 204, undefined)
      else send(res, 200, reply)
    })().catch((err: unknown) => {
      opts.onInternalError?.(err, '(transport)')
      if (!res.headersSent) send(res, 500, errorReply(null, new RpcError(RpcCode.INTERNAL, 'internal error')))
      else res.destroy()
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host

  return {
    url: `http://${host}:${port}`,
    port,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        // ethers keeps connections alive; without this close() waits for them to idle out.
        server.closeAllConnections()
      })
    }
  }
}
