import type { Config } from '../config/schema.ts';
import { parseDuration } from '../core/duration.ts';
import { rolesOf } from './roles.ts';

export interface TtlLimit {
  readonly ms: number;
  /** What sets it, for messages: `group agents`, `role admin`, `the default`. */
  readonly because: string;
  readonly text: string;
}

/**
 * The longest lifetime a token for these groups may have (`identity.maxTokenTtl`): the smallest limit among the
 * groups and roles the token carries that are listed, else the default; undefined when nothing limits it.
 */
export function maxTokenTtl(groups: readonly string[], identity: Pick<Config['identity'], 'maxTokenTtl' | 'roles'>): TtlLimit | undefined {
  const cfg = identity.maxTokenTtl;
  if (!cfg) return undefined;
  const limits: TtlLimit[] = [];
  for (const g of groups) {
    const text = Object.hasOwn(cfg.groups, g) ? cfg.groups[g] : undefined;
    if (text) limits.push({ ms: parseDuration(text), because: `group ${g}`, text });
  }
  for (const role of rolesOf({ subject: '', groups, kind: 'user', authMethod: 'token' }, identity.roles)) {
    const text = role === 'user' ? undefined : cfg.roles[role];
    if (text) limits.push({ ms: parseDuration(text), because: `role ${role}`, text });
  }
  if (limits.length === 0) return cfg.default ? { ms: parseDuration(cfg.default), because: 'the default', text: cfg.default } : undefined;
  return limits.reduce((a, b) => (b.ms < a.ms ? b : a));
}
