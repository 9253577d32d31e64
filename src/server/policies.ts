import type { Config, ConnectionConfig } from '../config/schema.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { inAnyGroup } from '../core/identity.ts';
import { compilePolicy } from '../policy/compile.ts';
import type { CompiledConnectionPolicy, ConnectionPolicies, ValueMasker } from '../policy/connection-policies.ts';
import { compileMasker, type Masker, type MaskOptions } from '../policy/mask/index.ts';
import { initSqlParser } from '../policy/sql/classify.ts';

/** Stored recordings are masked with every built-in detector unless the connection says otherwise. */
const DEFAULT_STORED = ['all'];

function asValueMasker(m: Masker): ValueMasker {
  return { maskText: (t, c) => m.maskText(t, c), maskValue: (col, v, c) => m.maskValue(col, v, c), active: true };
}

/** Builds maskers once; the `hash` strategy needs a per-session key, so it compiles per session. */
function maskerFactory(options: Omit<MaskOptions, 'sessionKey'>): (sessionKey: Buffer) => ValueMasker {
  if (options.kinds.length === 0 && (options.columnRules?.length ?? 1) === 0) return () => ({ maskText: (t) => t, maskValue: (_c, v) => v, active: false });
  if (options.strategy === 'hash') return (sessionKey) => asValueMasker(compileMasker({ ...options, sessionKey }));
  const shared = asValueMasker(compileMasker(options));
  return () => shared;
}

function compileConnection(name: string, conn: ConnectionConfig): CompiledConnectionPolicy {
  try {
    const policy = compilePolicy(conn.policy, { protocol: conn.type });
    const mask = conn.policy.mask;
    const base = { strategy: mask?.strategy ?? 'redact', columnRules: mask?.columns } as const;
    const stored = maskerFactory({ ...base, kinds: mask?.stored.length ? mask.stored : DEFAULT_STORED });
    const liveGroups = mask?.live?.groups ?? [];
    const live = liveGroups.length ? maskerFactory({ ...base, kinds: mask?.stored.length ? mask.stored : DEFAULT_STORED }) : undefined;
    return {
      policy,
      storedMasker: stored,
      liveMasker: (identity, key) => (live && inAnyGroup(identity, liveGroups) ? live(key) : undefined),
    };
  } catch (err) {
    throw new AirlockError(ErrorCodes.config, `connection "${name}": ${(err as Error).message}`, { cause: err });
  }
}

/** Compiles every connection's policy once at start; an invalid rule stops the gateway with its name. */
export async function buildConnectionPolicies(config: Config): Promise<ConnectionPolicies> {
  const needsParser = Object.values(config.connections).some((c) => c.type === 'postgres' && (c.policy.deny.length || c.policy.review.length || c.policy.allow));
  if (needsParser) await initSqlParser();
  const compiled = new Map<string, CompiledConnectionPolicy>();
  for (const [name, conn] of Object.entries(config.connections)) compiled.set(name, compileConnection(name, conn));
  return {
    get(name) {
      const c = compiled.get(name);
      if (!c) throw new AirlockError(ErrorCodes.unknownConnection, `connection "${name}" has no compiled policy`);
      return c;
    },
  };
}
