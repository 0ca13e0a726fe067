// Public API of the local actor runtime.

export { ActorSystem, type ActorSystemOptions } from './system.js'
export { DEFAULT_SUPERVISOR } from './supervisor.js'
export { TEMP_PREFIX, parseAddress } from './ref.js'
export type { Logger, LogLevel } from './internal.js'
export type * from './types.js'
