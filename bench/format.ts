// Printing and saving suite results.

import { cpus, totalmem, loadavg, platform, release } from 'node:os'
import type { Metric } from './suite.js'

export interface MachineInfo {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  platform: string
  loadavg: number[]
  date: string
}

export function machineInfo (): MachineInfo {
  const c = cpus()
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    platform: `${platform()} ${release()}`,
    loadavg: loadavg().map(x => Math.round(x * 100) / 100),
    date: new Date().toISOString()
  }
}

/** A number with about 3 significant digits and thousands separators. */
export function fmt (x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-'
  const a = Math.abs(x)
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3
  return x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 })
}

export function table (suite: string, metrics: Metric[]): string {
  const header = ['metric', 'verimesh', 'unit', 'peer', 'peer value', 'ratio', 'target', 'met']
  const rows = metrics.map(m => [
    m.name,
    fmt(m.value),
    m.unit,
    m.peer ?? '',
    fmt(m.peerValue),
    m.ratio === undefined ? '' : `${m.ratio.toFixed(2)}x`,
    m.target === undefined ? '' : `${m.better === 'higher' ? '>=' : '<='} ${fmt(m.target)}`,
    m.met === undefined ? '' : m.met ? 'met' : 'NOT MET'
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => i === 0 || i === 2 || i === 3 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join(' | ') + ' |'
  const sep = '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|'
  const notes = metrics.filter(m => m.note !== undefined).map(m => `  - ${m.name}: ${m.note}`)
  return [`## ${suite}`, '', line(header), sep, ...rows.map(line), ...(notes.length > 0 ? ['', 'notes:', ...notes] : []), ''].join('\n')
}
