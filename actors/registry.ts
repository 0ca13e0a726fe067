// Resolves a role implementation named in a node config: a built-in name, or a path to
// an ES module whose default export (or `roleModule` export) is a RoleModule.

import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { VerimeshError } from '../runtime/errors.js'
import type { RoleModule, RoleName } from './roles.js'

const BUILTIN: Record<RoleName, Record<string, () => Promise<RoleModule>>> = {
  router: { score: async () => (await import('./router/score-router.js')).scoreRouter },
  executor: { pipeline: async () => (await import('./executor/pipeline-executor.js')).pipelineExecutor },
  quorum: { reexec: async () => (await import('./quorum/reexec-quorum.js')).reexecQuorum },
  settler: { batch: async () => (await import('./settler/batch-settler.js')).batchSettler },
  prover: { groth16: async () => (await import('./prover/groth16-prover.js')).groth16Prover }
}

export function builtinImplementations (role: RoleName): string[] {
  return Object.keys(BUILTIN[role])
}

function looksLikePath (impl: string): boolean {
  return impl.startsWith('.') || impl.startsWith('/') || /\.(m?js|cjs)$/.test(impl)
}

export async function resolveRole (role: RoleName, impl: string, baseDir: string): Promise<RoleModule> {
  const builtin = BUILTIN[role][impl]
  if (builtin !== undefined) return await builtin()
  if (!looksLikePath(impl)) {
    const known = builtinImplementations(role)
    throw new VerimeshError('ROLE_UNKNOWN', `no built-in ${role} implementation '${impl}' (built-ins: ${known.length === 0 ? 'none yet' : known.join(', ')}; or give a module path)`, { role, impl })
  }
  const file = path.resolve(baseDir, impl)
  let mod: Record<string, unknown>
  try {
    mod = await import(pathToFileURL(file).href) as Record<string, unknown>
  } catch (err) {
    throw new VerimeshError('ROLE_LOAD_FAILED', `cannot load ${role} module ${file}: ${(err as Error).message}`, { role, file }, { cause: err })
  }
  const candidate = (mod.default ?? mod.roleModule) as Partial<RoleModule> | undefined
  if (candidate === undefined || typeof candidate.create !== 'function' || typeof candidate.name !== 'string') {
    throw new VerimeshError('ROLE_LOAD_FAILED', `${file} must export a RoleModule ({ role, name, create }) as default or 'roleModule'`, { role, file })
  }
  if (candidate.role !== role) {
    throw new VerimeshError('ROLE_LOAD_FAILED', `${file} implements role '${String(candidate.role)}', configured as '${role}'`, { role, file })
  }
  return candidate as RoleModule
}
