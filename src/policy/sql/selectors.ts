/**
 * Names usable in a rule's `statements` and in `policy.allow`: every StatementKind, every effect name
 * (effects.ts: file_read, file_write, large_object, remote, server_admin), plus aliases.
 *
 *   delete_without_where   DELETE with no WHERE, or a constant-true one, and every other delete (MERGE … DELETE)
 *   update_without_where   UPDATE likewise (and MERGE … UPDATE, ON CONFLICT DO UPDATE, ALTER COLUMN … TYPE … USING)
 *   drop                   any drop_* kind
 *   write                  insert, update, delete, merge, truncate, COPY … FROM (file, stdin or program)
 *   ddl                    create, alter_table, alter_other, alter_system, any drop_*
 *   any                    every statement
 *
 * A name matches a statement when it matches the statement's kind or one of its effects: `delete` covers a
 * MERGE that deletes, `set` covers `SELECT set_config(…)`, `drop_table` covers `DROP SCHEMA … CASCADE`.
 * Names are case-insensitive and spaces or dashes count as underscores (`DROP TABLE` = `drop_table`).
 */
import type { ClassifiedStatement } from './classify.ts';
import { EFFECT_LABELS, EFFECT_NAMES, type Effect, type EffectName } from './effects.ts';
import { KIND_LABELS, STATEMENT_KINDS, type StatementKind } from './kinds.ts';

/** One thing a statement does: its kind, or one of its effects. */
export interface Facet {
  readonly kind: Effect;
  readonly hasWhere?: boolean;
  readonly copyFrom?: boolean;
  /** An effect, not the statement's own kind. */
  readonly effect?: boolean;
}

export type FacetPredicate = (f: Facet) => boolean;
/** The facet of a statement that a name matches, or undefined. */
export type StatementPredicate = (s: ClassifiedStatement) => Facet | undefined;

const DROPS: ReadonlySet<Effect> = new Set(['drop_table', 'drop_database', 'drop_schema', 'drop_other']);
const WRITES: ReadonlySet<Effect> = new Set(['insert', 'update', 'delete', 'merge', 'truncate']);
const DDL: ReadonlySet<Effect> = new Set(['create', 'alter_table', 'alter_other', 'alter_system', ...DROPS]);

const ALIASES: Readonly<Record<string, FacetPredicate>> = {
  delete_without_where: (f) => f.kind === 'delete' && f.hasWhere === false,
  update_without_where: (f) => f.kind === 'update' && f.hasWhere === false,
  drop: (f) => DROPS.has(f.kind),
  write: (f) => WRITES.has(f.kind) || ((f.kind === 'copy' || f.kind === 'copy_program') && f.copyFrom === true),
  ddl: (f) => DDL.has(f.kind),
  any: () => true,
};

const KIND_SET: ReadonlySet<string> = new Set<string>([...STATEMENT_KINDS, ...EFFECT_NAMES]);

export const STATEMENT_NAMES: readonly string[] = [...STATEMENT_KINDS, ...EFFECT_NAMES, ...Object.keys(ALIASES)];

export function normaliseStatementName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** A statement's facets: its kind first, then its effects. */
export function facets(s: ClassifiedStatement): Facet[] {
  const out: Facet[] = [{ kind: s.kind, hasWhere: s.hasWhere, copyFrom: s.copyFrom }];
  for (const e of s.effects ?? []) out.push({ ...e, effect: true });
  return out;
}

/** Predicate on one facet for a name, or undefined when the name is not known. */
export function facetPredicate(name: string): FacetPredicate | undefined {
  const n = normaliseStatementName(name);
  if (KIND_SET.has(n)) return (f) => f.kind === n;
  return ALIASES[n];
}

/** Predicate for a statement name, or undefined when the name is not known. */
export function statementPredicate(name: string): StatementPredicate | undefined {
  const p = facetPredicate(name);
  return p && ((s) => facets(s).find(p));
}

/** `DELETE without WHERE`, `SELECT`; an effect as `MERGE (DELETE without WHERE)`, `SELECT (reads server files)`. */
export function facetLabel(s: ClassifiedStatement, f: Facet): string {
  const base = KIND_LABELS[s.kind] + (s.hasWhere === false ? ' without WHERE' : '');
  if (!f.effect) return base;
  const what = f.kind in EFFECT_LABELS ? EFFECT_LABELS[f.kind as EffectName] : KIND_LABELS[f.kind as StatementKind] + (f.hasWhere === false ? ' without WHERE' : '');
  return `${base} (${what})`;
}
