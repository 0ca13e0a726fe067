// Message types of the actors benchmark (parent and peer process).
import { Type } from '@sinclair/typebox'
import { defineMessage, MessageRegistry } from '../../runtime/protocol/registry.js'

export const Echo = defineMessage('bench.echo', 1, { n: Type.Integer() })
export const Blob = defineMessage('bench.blob', 1, { seq: Type.Integer({ minimum: 0 }), data: Type.Uint8Array() })
export const Report = defineMessage('bench.report', 1, {})
export const ReportResult = defineMessage('bench.report.result', 1, { count: Type.Integer(), outOfOrder: Type.Integer() })

export function benchRegistry (): MessageRegistry {
  return new MessageRegistry([Echo, Blob, Report, ReportResult])
}

/** Raw libp2p protocols the peer serves beside the actor transport, for the comparisons. */
export const RAW_ECHO = '/verimesh-bench/raw-echo/1.0.0'
export const RAW_SINK = '/verimesh-bench/raw-sink/1.0.0'
