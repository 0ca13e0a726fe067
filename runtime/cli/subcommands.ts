// How a command group (`verimesh model ...`, `verimesh chain ...`) dispatches: usage and
// help, an unknown subcommand, and the exit codes every subcommand shares (2 for a usage
// error with its help, 1 for a failure with its code and context).

import { parseArgs } from 'node:util'
import { VerimeshError } from '../errors.js'
import { RevertError } from '../chain/revert.js'

/** Thrown by a subcommand for bad flags or arguments: exit 2 with the help. */
export class UsageError extends Error {}

export type FlagSpec = Record<string, { type: 'string' | 'boolean' }>
export type FlagValues = Record<string, string | boolean | undefined>

/**
 * A subcommand's flags (strict, plus -h/--help) and exactly `positionals` arguments.
 * With --help, prints `help` and resolves undefined: the subcommand then exits 0.
 */
export function parseFlags (help: string, args: string[], options: FlagSpec, positionals = 0): { values: FlagValues, positionals: string[] } | undefined {
  let parsed: { values: FlagValues, positionals: string[] }
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals > 0, strict: true }) as { values: FlagValues, positionals: string[] }
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  if (parsed.values.help === true) {
    process.stdout.write(help)
    return undefined
  }
  if (parsed.positionals.length !== positionals) throw new UsageError(`expected ${positionals} argument${positionals === 1 ? '' : 's'}, got ${parsed.positionals.length}`)
  return parsed
}

/** A string flag's value; a missing required one is a usage error. */
export function str (v: FlagValues, name: string, required: true): string
export function str (v: FlagValues, name: string, required?: false): string | undefined
export function str (v: FlagValues, name: string, required = false): string | undefined {
  const x = v[name]
  if (x === undefined && required) throw new UsageError(`--${name} is required`)
  return typeof x === 'string' ? x : undefined
}

export type Subcommand = (argv: string[]) => Promise<number>

export interface CommandGroup {
  /** e.g. 'model': printed as `verimesh model <cmd>`. */
  name: string
  usage: string
  help: Readonly<Record<string, string>>
  commands: Readonly<Record<string, Subcommand>>
  /** On a usage error: print the subcommand's whole help (true) or a pointer to it. */
  fullHelpOnUsageError?: boolean
}

export async function runCommandGroup (group: CommandGroup, argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  const label = `verimesh ${group.name}${cmd === undefined ? '' : ` ${cmd}`}`
  try {
    switch (cmd) {
      case undefined:
        process.stderr.write(group.usage)
        return 2
      case '-h':
      case '--help':
        process.stdout.write(group.usage)
        return 0
      case 'help':
        process.stdout.write(group.help[rest[0] ?? ''] ?? group.usage)
        return 0
    }
    const run = Object.prototype.hasOwnProperty.call(group.commands, cmd) ? group.commands[cmd] : undefined
    if (run === undefined) {
      process.stderr.write(`verimesh ${group.name}: unknown command '${cmd}'\n\n${group.usage}`)
      return 2
    }
    return await run(rest)
  } catch (err) {
    if (err instanceof UsageError) {
      const hint = group.fullHelpOnUsageError === true ? `\n${group.help[cmd ?? ''] ?? group.usage}` : `(see '${label} --help')\n`
      process.stderr.write(`${label}: ${err.message}\n${hint}`)
      return 2
    }
    const e = VerimeshError.from(err)
    process.stderr.write(`${label}: ${e.code}: ${e.message}\n`)
    if (e instanceof RevertError) process.stderr.write(`  reverted with: ${e.errorName}\n`)
    if (Object.keys(e.context).length > 0) process.stderr.write(`  context: ${JSON.stringify(e.context, (_, x: unknown) => typeof x === 'bigint' ? x.toString() : x)}\n`)
    return 1
  }
}
