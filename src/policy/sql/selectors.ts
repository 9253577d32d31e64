/**
 * Statement names usable in a rule's `statements`: every StatementKind, plus aliases.
 *
 *   delete_without_where   DELETE with no WHERE, or a constant-true one
 *   update_without_where   UPDATE likewise
 *   drop                   any drop_* kind
 *   write                  insert, update, delete, merge, truncate, COPY … FROM (file, stdin or program)
 *   ddl                    create, alter_table, alter_other, alter_system, any drop_*
 *   any                    every statement
 *
 * Names are case-insensitive and spaces or dashes count as underscores (`DROP TABLE` = `drop_table`).
 */
import type { ClassifiedStatement } from './classify.ts';
import { STATEMENT_KINDS, type StatementKind } from './kinds.ts';

export type StatementPredicate = (s: ClassifiedStatement) => boolean;

const DROPS: ReadonlySet<StatementKind> = new Set(['drop_table', 'drop_database', 'drop_schema', 'drop_other']);
const WRITES: ReadonlySet<StatementKind> = new Set(['insert', 'update', 'delete', 'merge', 'truncate']);
const DDL: ReadonlySet<StatementKind> = new Set(['create', 'alter_table', 'alter_other', 'alter_system', ...DROPS]);

const ALIASES: Readonly<Record<string, StatementPredicate>> = {
  delete_without_where: (s) => s.kind === 'delete' && s.hasWhere === false,
  update_without_where: (s) => s.kind === 'update' && s.hasWhere === false,
  drop: (s) => DROPS.has(s.kind),
  write: (s) => WRITES.has(s.kind) || ((s.kind === 'copy' || s.kind === 'copy_program') && s.copyFrom === true),
  ddl: (s) => DDL.has(s.kind),
  any: () => true,
};

const KIND_SET: ReadonlySet<string> = new Set(STATEMENT_KINDS);

export const STATEMENT_NAMES: readonly string[] = [...STATEMENT_KINDS, ...Object.keys(ALIASES)];

export function normaliseStatementName(name: string): string {
  return name.trim().toLowerCase().replace(/[\s-]+/g, '_');
}

/** Predicate for a statement name, or undefined when the name is not known. */
export function statementPredicate(name: string): StatementPredicate | undefined {
  const n = normaliseStatementName(name);
  if (KIND_SET.has(n)) return (s) => s.kind === n;
  return ALIASES[n];
}
