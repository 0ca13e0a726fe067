// How a command group (`verimesh model ...`, `verimesh chain ...`) dispatches: usage and
// help, an unknown subcommand, and the exit codes every subcommand shares (2 for a usage
// error with its help, 1 for a failure with its code and context).

import { VerimeshError } from '../errors.js'
import { RevertError } from '../chain/revert.js'

/** Thrown by a subcommand for bad flags or arguments: exit 2 with the help. */
export class UsageError extends Error {}

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
