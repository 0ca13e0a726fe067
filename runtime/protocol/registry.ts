// Message types and their schemas. A definition is written once (runtime/protocol/messages.ts
// for the product, tests may add their own); TypeScript types are derived from it and the
// transport checks every inbound payload against its compiled validator.

import { Type, type Static, type TLiteral, type TObject, type TProperties, type TSchema } from '@sinclair/typebox'
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { VerimeshError } from '../errors.js'
import type { Message } from '../actors/types.js'

export interface MessageDef<T extends string = string, S extends TSchema = TSchema> {
  readonly type: T
  /** Bumped on any incompatible change; a receiver refuses versions it does not know. */
  readonly version: number
  /** Schema of the whole message object, `type` field included. */
  readonly schema: S
}

export type MessageOf<D extends MessageDef> = Static<D['schema']>

export function defineMessage<T extends string, P extends TProperties> (
  type: T, version: number, props: P
): MessageDef<T, TObject<{ type: TLiteral<T> } & P>> {
  const schema = Type.Object({ type: Type.Literal(type), ...props } as { type: TLiteral<T> } & P, { additionalProperties: false })
  return { type, version, schema }
}

interface Entry {
  def: MessageDef
  check: TypeCheck<TSchema>
}

export class MessageRegistry {
  readonly #entries = new Map<string, Entry>()

  constructor (defs: Iterable<MessageDef> = []) {
    for (const def of defs) this.register(def)
  }

  register (def: MessageDef): this {
    const existing = this.#entries.get(def.type)
    if (existing !== undefined && existing.def !== def) {
      throw new VerimeshError('CONFIG_INVALID', `message type '${def.type}' registered twice`, { type: def.type })
    }
    this.#entries.set(def.type, { def, check: TypeCompiler.Compile(def.schema) })
    return this
  }

  has (type: string): boolean {
    return this.#entries.has(type)
  }

  version (type: string): number | undefined {
    return this.#entries.get(type)?.def.version
  }

  types (): string[] {
    return [...this.#entries.keys()]
  }

  /**
   * Check an inbound message. Returns the message typed on success; throws
   * UNKNOWN_MESSAGE_TYPE, UNSUPPORTED_VERSION or SCHEMA_INVALID (naming the first
   * offending field) otherwise.
   */
  validate (type: string, version: number, message: unknown): Message {
    const entry = this.#entries.get(type)
    if (entry === undefined) {
      throw new VerimeshError('UNKNOWN_MESSAGE_TYPE', `unknown message type '${type}'`, { type })
    }
    if (version !== entry.def.version) {
      throw new VerimeshError('UNSUPPORTED_VERSION', `message type '${type}' version ${version} is not supported (this node speaks ${entry.def.version})`, { type, version, supported: entry.def.version })
    }
    if (!entry.check.Check(message)) {
      const first = entry.check.Errors(message).First()
      const where = first === undefined ? '' : ` at '${first.path === '' ? '/' : first.path}': ${first.message}`
      throw new VerimeshError('SCHEMA_INVALID', `invalid '${type}' message${where}`, { type, path: first?.path, reason: first?.message })
    }
    return message as Message
  }
}
