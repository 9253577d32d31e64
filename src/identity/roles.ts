import type { Config } from '../config/schema.ts';
import { inAnyGroup, type Identity } from '../core/identity.ts';

export type Role = 'admin' | 'auditor' | 'approver' | 'user';

/** Roles from groups (`identity.roles` in the config). Every authenticated identity is a `user`. */
export function rolesOf(identity: Identity, roles: Config['identity']['roles']): Set<Role> {
  const out = new Set<Role>(['user']);
  if (inAnyGroup(identity, roles.admin)) out.add('admin');
  if (inAnyGroup(identity, roles.auditor)) out.add('auditor');
  if (inAnyGroup(identity, roles.approver)) out.add('approver');
  return out;
}
