/**
 * Compiles a connection's `policy` (deny and review rules) into a pure `decide(command, identity)`.
 *
 * Semantics:
 * - A rule applies to an identity when its `groups` (if set) intersect the identity's groups and
 *   its `kinds` (if set) include the identity's kind.
 * - A rule matches a command when any of its criteria does: a statement of one of its `statements`
 *   kinds or aliases, a statement touching one of its `tables` (SQL only), one of its `commands` globs
 *   (exec / shell-line only), or one of its `patterns` (RE2, on the raw text; for shell commands also
 *   on each normalised command). A rule with no criteria at all matches every command.
 * - Order: deny rules, in order (their matches, then their `onUnknown: deny`); then the allow list
 *   (`policy.allow`, allow-list.ts), whose `otherwise` decides what it does not cover (unknown effects included);
 *   then review rules, in order. The first match wins.
 * - Unknown effect (SQL that does not parse, or contains a DO block, CALL, EXECUTE of a statement not
 *   prepared in the same text, a function body we cannot read; a shell line too nested to analyse):
 *   after the deny rules' own matches, each applicable rule's `onUnknown` decides (default `deny` for
 *   deny rules, `review` for review rules, `allow` skips the rule). Any `deny` wins over any `review`.
 *   So a DO block is denied on a connection with any deny rule, unless that rule says otherwise.
 *   Statements visible inside a DO block are still matched normally first.
 * - Deny → `{ action: 'deny', rule, reason }`; review → `{ action: 'review', rule, approvers, reason }`.
 *
 * Everything is validated here (unknown statement names, bad globs, bad regexes, duplicate rule names,
 * criteria that cannot apply to the connection's protocol); `decide` never throws.
 */
import type { PolicyConfig } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import { expandCommandLine } from './commands/match.ts';
import { compileAllowList, type AllowList } from './allow-list.ts';
import { compileRule, quote, type CompiledRule, type Subject } from './rule.ts';
import { classifiesInline, classifySqlCached, classifySqlLater } from './sql/cache.ts';
import { isSqlParserReady, type SqlClassification } from './sql/classify.ts';
import { ALLOW, allowAll, type Command, type ConnectionPolicy, type Decision } from './types.ts';

export interface CompileOptions {
  /** The connection's protocol ('postgres', 'ssh'); enables protocol-specific validation. */
  readonly protocol?: string;
}

/** Protocols whose commands are SQL classified by the PostgreSQL parser. */
const SQL_PROTOCOLS = new Set(['postgres']);

export function compilePolicy(policy: PolicyConfig, options: CompileOptions = {}): ConnectionPolicy {
  const deny = (policy.deny ?? []).map((r) => compileRule(r, 'deny', options.protocol));
  const review = (policy.review ?? []).map((r) => compileRule(r, 'review', options.protocol));
  const names = new Set<string>();
  for (const r of [...deny, ...review]) {
    if (names.has(r.name)) throw new Error(`policy rule "${r.name}": duplicate rule name`);
    names.add(r.name);
  }
  const allow = compileAllowList(policy, options.protocol);
  if (deny.length + review.length === 0 && !allow) return allowAll;
  const needsSql = options.protocol === undefined || SQL_PROTOCOLS.has(options.protocol);
  if (needsSql && !isSqlParserReady()) {
    throw new Error('SQL parser not loaded: await initSqlParser() (src/policy/sql/classify.ts) once at startup before compilePolicy()');
  }
  return {
    decide: (command, identity) => decide(deny, review, allow, command, identity),
    listsCommands: () => allow !== undefined && options.protocol === 'ssh',
    decideLater(command, identity) {
      if (command.kind !== 'query' || classifiesInline(command.text)) return undefined;
      if (!allow && ![...deny, ...review].some((r) => r.appliesTo(identity))) return undefined;
      return classifySqlLater(command.text).then((sql) => decide(deny, review, allow, command, identity, sql));
    },
  };
}

function decide(
  denyRules: readonly CompiledRule[], reviewRules: readonly CompiledRule[], allow: AllowList | undefined, command: Command, identity: Identity, sql?: SqlClassification,
): Decision {
  const deny = denyRules.filter((r) => r.appliesTo(identity));
  const review = reviewRules.filter((r) => r.appliesTo(identity));
  if (deny.length + review.length === 0 && !allow) return ALLOW;

  const subject: Subject = sql ? { type: 'sql', raw: command.text, sql } : analyse(command);
  const unknown = unknownOf(subject);

  for (const r of deny) {
    const what = r.match(subject);
    if (what) return denied(r, `${what} is blocked by rule ${r.name}`);
  }

  if (unknown) {
    for (const r of [...deny, ...review]) {
      if (r.onUnknown === 'deny') return denied(r, `${unknown}: its effect cannot be checked, so it is blocked by rule ${r.name}`);
    }
  }
  const outside = allow?.check(subject);
  if (outside) return outside;
  if (unknown) {
    const reviewOnUnknown = deny.find((r) => r.onUnknown === 'review');
    if (reviewOnUnknown) return reviewed(reviewOnUnknown, `${unknown}: its effect cannot be checked, so it needs review under rule ${reviewOnUnknown.name}`);
  }

  for (const r of review) {
    const what = r.match(subject);
    if (what) return reviewed(r, `${what} needs review under rule ${r.name}`);
    if (unknown && r.onUnknown === 'review') return reviewed(r, `${unknown}: its effect cannot be checked, so it needs review under rule ${r.name}`);
  }
  return ALLOW;
}

function analyse(command: Command): Subject {
  const raw = command.text;
  switch (command.kind) {
    case 'query':
      return { type: 'sql', raw, sql: safeClassify(raw) };
    case 'exec':
    case 'shell-line':
      return { type: 'shell', raw, line: expandCommandLine(raw), ...(command.unknown ? { unknown: command.unknown } : {}) };
    default:
      return { type: 'other', raw };
  }
}

function safeClassify(text: string): SqlClassification {
  try {
    return classifySqlCached(text);
  } catch (err) {
    return { statements: [], parseError: err instanceof Error ? err.message : String(err) };
  }
}

/** Why the command's effect cannot be determined, as the start of a reason; undefined when it can. */
function unknownOf(subject: Subject): string | undefined {
  if (subject.type === 'sql') {
    if (subject.sql.parseError !== undefined) return `statement could not be parsed (${subject.sql.parseError})`;
    const s = subject.sql.statements.find((x) => x.unknown);
    return s ? `${s.unknown} in ${quote(subject.raw)}` : undefined;
  }
  if (subject.type === 'shell' && subject.unknown) return `${subject.unknown} in ${quote(subject.raw)}`;
  if (subject.type === 'shell' && subject.line.incomplete) return `${subject.line.incomplete} in ${quote(subject.raw)}`;
  return undefined;
}

function denied(rule: CompiledRule, reason: string): Decision {
  return { action: 'deny', rule: rule.name, reason };
}

function reviewed(rule: CompiledRule, reason: string): Decision {
  return { action: 'review', rule: rule.name, approvers: rule.approvers, reason };
}
