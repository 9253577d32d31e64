import type { Me } from './types.ts';

/**
 * What each screen element needs. The API enforces the same rules on every call; the console only hides
 * what would be refused anyway.
 */
const NEEDS = {
  /** See every user's sessions, filter by user, export evidence bundles. */
  audit: ['auditor', 'admin'],
  review: ['approver', 'admin'],
  tokens: ['admin'],
  /** End a live session. */
  terminate: ['admin'],
} as const;

export function can(me: Me, what: keyof typeof NEEDS): boolean {
  return NEEDS[what].some((r) => me.roles.includes(r));
}
