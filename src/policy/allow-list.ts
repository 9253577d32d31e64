/**
 * Allow-list mode (`policy.allow`): a SQL statement is allowed only when its kind and every one of its effects
 * is named in the list (`allow: [select, set]` lets `SELECT set_config(…)` through, not `SELECT pg_read_file(…)`).
 * On an SSH connection the list holds command globs (`allow: ['ls *', 'cat /var/log/*']`, commands/allow-list.ts).
 * Everything else, including whatever the classifier cannot fully see (unparseable text, DO blocks, SQL built at
 * run time), gets `policy.otherwise`: `deny` (default) or `review` by `policy.approvers`.
 */
import type { PolicyConfig } from '../config/schema.ts';
import { compileCommandAllowList } from './commands/allow-list.ts';
import { quote, type Subject } from './rule.ts';
import { facetLabel, facetPredicate, facets, STATEMENT_NAMES, type FacetPredicate } from './sql/selectors.ts';
import type { Decision } from './types.ts';

/** The rule name decisions of the allow list carry. */
export const ALLOW_LIST_RULE = 'allow-list';

export interface AllowList {
  /** A deny or review decision for what the list does not cover; undefined when it covers the command. */
  check(subject: Subject): Decision | undefined;
}

export function compileAllowList(policy: PolicyConfig, protocol?: string): AllowList | undefined {
  if (!policy.allow) {
    if (policy.otherwise || policy.approvers) throw new Error('policy: `otherwise` and `approvers` go with `allow`');
    return undefined;
  }
  if (protocol !== undefined && protocol !== 'postgres' && protocol !== 'ssh') throw new Error(`policy.allow does not apply to ${protocol} connections`);
  const otherwise = policy.otherwise ?? 'deny';
  const approvers = policy.approvers ?? [];
  if (otherwise === 'review' && approvers.length === 0) throw new Error('policy: `otherwise: review` needs `approvers`');
  const refuse = (what: string): Decision =>
    otherwise === 'deny'
      ? { action: 'deny', rule: ALLOW_LIST_RULE, reason: `${what}, so it is blocked` }
      : { action: 'review', rule: ALLOW_LIST_RULE, approvers, reason: `${what}, so it needs review` };
  if (protocol === 'ssh') return compileCommandAllowList(policy.allow, refuse);
  const allowed: FacetPredicate[] = policy.allow.map((name) => {
    const p = facetPredicate(name);
    if (!p) throw new Error(`policy.allow: unknown statement "${name}" (known: ${STATEMENT_NAMES.join(', ')})`);
    return p;
  });

  return {
    check(subject) {
      if (subject.type !== 'sql') return refuse(`${quote(subject.raw)} is not SQL the allow list can judge`);
      if (subject.sql.parseError !== undefined) return refuse(`statement could not be parsed (${subject.sql.parseError}): it is not on the allow list`);
      for (const s of subject.sql.statements) {
        if (s.unknown) return refuse(`${s.unknown} in ${quote(subject.raw)}: its effect cannot be checked against the allow list`);
        for (const f of facets(s)) {
          if (!allowed.some((p) => p(f))) return refuse(`statement ${quote(facetLabel(s, f))} is not on the connection's allow list`);
        }
      }
      return undefined;
    },
  };
}
