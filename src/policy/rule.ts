/**
 * One compiled policy rule: who it applies to and what it matches. See compile.ts for how rules combine.
 */
import type { PolicyConfig } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import { compileCommandPattern, compileRegex, type CommandLine, type CommandMatcher } from './commands/match.ts';
import type { ClassifiedStatement, SqlClassification } from './sql/classify.ts';
import { KIND_LABELS } from './sql/kinds.ts';
import { STATEMENT_NAMES, facetLabel, statementPredicate, type StatementPredicate } from './sql/selectors.ts';

export type RuleConfig = PolicyConfig['deny'][number];
export type RuleAction = 'deny' | 'review';
export type UnknownMode = 'deny' | 'review' | 'allow';

/** What a command looks like to the rules: the raw text plus whatever analysis its kind allows. */
export type Subject =
  | { readonly type: 'sql'; readonly raw: string; readonly sql: SqlClassification }
  /** `unknown`: the adapter could not see the text exactly (a typed line edited with cursor keys): why. */
  | { readonly type: 'shell'; readonly raw: string; readonly line: CommandLine; readonly unknown?: string }
  | { readonly type: 'other'; readonly raw: string };

export interface CompiledRule {
  readonly name: string;
  readonly action: RuleAction;
  readonly approvers: readonly string[];
  /** What to do with a command whose effect cannot be determined (unparseable SQL, DO block…). */
  readonly onUnknown: UnknownMode;
  appliesTo(identity: Identity): boolean;
  /** A description of what matched (`statement "DROP TABLE"`), or undefined. */
  match(subject: Subject): string | undefined;
}

interface TableRef {
  readonly schema?: string;
  readonly rel: string;
}

const MAX_SHOWN = 120;

export function statementLabel(s: ClassifiedStatement): string {
  const base = KIND_LABELS[s.kind];
  return s.hasWhere === false ? `${base} without WHERE` : base;
}

export function quote(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(oneLine.length > MAX_SHOWN ? `${oneLine.slice(0, MAX_SHOWN)}…` : oneLine);
}

/** `public.users`, `"Users"`, `users` → schema and relation, lower-cased, quotes dropped. */
function parseTable(spec: string): TableRef {
  const parts = spec.split('.').map((p) => p.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  const rel = parts[parts.length - 1] ?? '';
  return parts.length >= 2 ? { schema: parts[parts.length - 2], rel } : { rel };
}

/**
 * A rule table matches a touched relation when the relation names are equal and, if both give a
 * schema, the schemas are equal. An unqualified name on either side matches any schema: `users`
 * in a rule covers `app.users`, and `public.users` in a rule covers a statement's bare `users`
 * (search_path may resolve it there). Over-matching is the safe side for a guard rail.
 */
function tableMatches(rule: TableRef, touched: string): boolean {
  const t = parseTable(touched);
  if (t.rel !== rule.rel) return false;
  return rule.schema === undefined || t.schema === undefined || rule.schema === t.schema;
}

function fail(rule: string, message: string): never {
  throw new Error(`policy rule "${rule}": ${message}`);
}

export function compileRule(config: RuleConfig, action: RuleAction, protocol?: string): CompiledRule {
  const name = config.name;
  if (protocol === 'postgres' && config.commands?.length) fail(name, '`commands` apply to shell commands, not to PostgreSQL connections');
  if (protocol === 'ssh' && (config.statements?.length || config.tables?.length)) {
    fail(name, '`statements` and `tables` apply to SQL, not to SSH connections');
  }

  const statements: { name: string; test: StatementPredicate }[] = (config.statements ?? []).map((s) => {
    const test = statementPredicate(s);
    if (!test) fail(name, `unknown statement "${s}" (known: ${STATEMENT_NAMES.join(', ')})`);
    return { name: s, test };
  });
  const tables = (config.tables ?? []).map((t) => {
    const ref = parseTable(t);
    if (ref.rel === '') fail(name, `empty table name "${t}"`);
    return ref;
  });
  const commands: CommandMatcher[] = (config.commands ?? []).map((c) => {
    try {
      return compileCommandPattern(c);
    } catch (err) {
      return fail(name, `bad command pattern "${c}": ${(err as Error).message}`);
    }
  });
  const patterns = (config.patterns ?? []).map((p) => {
    try {
      return { source: p, re: compileRegex(p) };
    } catch (err) {
      return fail(name, `bad regex "${p}": ${(err as Error).message}`);
    }
  });
  const matchesEverything = statements.length + tables.length + commands.length + patterns.length === 0;

  const groups = config.groups ? new Set(config.groups) : undefined;
  const kinds = config.kinds ? new Set<string>(config.kinds) : undefined;

  const matchSql = (sql: SqlClassification): string | undefined => {
    for (const s of sql.statements) {
      for (const p of statements) {
        const facet = p.test(s);
        if (facet) return `statement ${quote(facetLabel(s, facet))}`;
      }
      for (const touched of s.tables) {
        if (tables.some((t) => tableMatches(t, touched))) return `statement ${quote(statementLabel(s))} on table ${quote(touched)}`;
      }
    }
    return undefined;
  };

  return {
    name,
    action,
    approvers: config.approvers ?? [],
    onUnknown: config.onUnknown ?? (action === 'deny' ? 'deny' : 'review'),
    appliesTo(identity) {
      if (groups && !identity.groups.some((g) => groups.has(g))) return false;
      if (kinds && !kinds.has(identity.kind)) return false;
      return true;
    },
    match(subject) {
      if (matchesEverything) return describe(subject);
      if (subject.type === 'sql') {
        const hit = matchSql(subject.sql);
        if (hit) return hit;
      } else if (subject.type === 'shell') {
        for (const c of commands) {
          const hit = c.match(subject.line);
          if (hit !== undefined) return `command ${quote(hit)}`;
        }
      }
      for (const p of patterns) {
        if (p.re.test(subject.raw)) return `text matching /${p.source}/`;
        if (subject.type === 'shell') {
          const hit = subject.line.commands.find((c) => p.re.test(c));
          if (hit !== undefined) return `command ${quote(hit)} (matching /${p.source}/)`;
        }
      }
      return undefined;
    },
  };
}

/** What a criteria-less rule matched: the command itself. */
function describe(subject: Subject): string {
  if (subject.type === 'sql') {
    const first = subject.sql.statements[0];
    return first ? `statement ${quote(statementLabel(first))}` : `statement ${quote(subject.raw)}`;
  }
  return `command ${quote(subject.raw)}`;
}
