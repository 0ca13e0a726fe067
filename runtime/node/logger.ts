// Structured JSON logs (pino) on stdout, one object per line, with the node's name and
// peer id bound in, so a devnet's interleaved logs can be filtered per node.

import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino'

export type Logger = PinoLogger
export type LogLevel = LevelWithSilent

export function createLogger (opts: { level?: LogLevel, name?: string, bindings?: Record<string, unknown>, destination?: number | string }): Logger {
  const dest = pino.destination({ dest: opts.destination ?? 1, sync: true })
  return pino({
    level: opts.level ?? 'info',
    ...(opts.name === undefined ? {} : { name: opts.name }),
    base: { pid: process.pid, ...(opts.bindings ?? {}) },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) }
  }, dest)
}

/** A logger that drops everything: for library use and tests that do not read logs. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
