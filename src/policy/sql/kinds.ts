/**
 * Statement kinds: what a parsed PostgreSQL statement node is, as policy sees it.
 *
 * `alter_other` is an addition to the original list (ALTER ROLE, ALTER VIEW, ALTER FUNCTION…)
 * so that `ddl` can cover every ALTER without lumping them into `alter_table`.
 */
export type StatementKind =
  | 'select'
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'drop_table'
  | 'drop_database'
  | 'drop_schema'
  | 'drop_other'
  | 'truncate'
  | 'alter_system'
  | 'alter_table'
  | 'alter_other'
  | 'copy_program'
  | 'copy'
  | 'grant'
  | 'revoke'
  | 'create'
  | 'do'
  | 'call'
  | 'execute'
  | 'set'
  | 'transaction'
  | 'explain'
  | 'load'
  | 'other';

export const STATEMENT_KINDS: readonly StatementKind[] = [
  'select', 'insert', 'update', 'delete', 'merge', 'drop_table', 'drop_database', 'drop_schema', 'drop_other',
  'truncate', 'alter_system', 'alter_table', 'alter_other', 'copy_program', 'copy', 'grant', 'revoke', 'create',
  'do', 'call', 'execute', 'set', 'transaction', 'explain', 'load', 'other',
];

/** Human label used in decision reasons (`statement "DROP TABLE" is blocked…`). */
export const KIND_LABELS: Readonly<Record<StatementKind, string>> = {
  select: 'SELECT',
  insert: 'INSERT',
  update: 'UPDATE',
  delete: 'DELETE',
  merge: 'MERGE',
  drop_table: 'DROP TABLE',
  drop_database: 'DROP DATABASE',
  drop_schema: 'DROP SCHEMA',
  drop_other: 'DROP',
  truncate: 'TRUNCATE',
  alter_system: 'ALTER SYSTEM',
  alter_table: 'ALTER TABLE',
  alter_other: 'ALTER',
  copy_program: 'COPY … PROGRAM',
  copy: 'COPY',
  grant: 'GRANT',
  revoke: 'REVOKE',
  create: 'CREATE',
  do: 'DO',
  call: 'CALL',
  execute: 'EXECUTE',
  set: 'SET',
  transaction: 'transaction control',
  explain: 'EXPLAIN',
  load: 'LOAD',
  other: 'utility statement',
};

type Body = Record<string, unknown>;

const TABLE_LIKE = new Set(['OBJECT_TABLE', 'OBJECT_FOREIGN_TABLE']);

function alterKind(objectType: unknown): StatementKind {
  return typeof objectType === 'string' && TABLE_LIKE.has(objectType) ? 'alter_table' : 'alter_other';
}

/**
 * Kind of one statement node, from its node type (`DeleteStmt`…) and body.
 * COPY's program form and SELECT … INTO are decided here too.
 */
export function kindOf(type: string, body: Body): StatementKind {
  switch (type) {
    case 'SelectStmt':
      return body.intoClause ? 'create' : 'select';
    case 'InsertStmt':
      return 'insert';
    case 'UpdateStmt':
      return 'update';
    case 'DeleteStmt':
      return 'delete';
    case 'MergeStmt':
      return 'merge';
    case 'DropStmt':
      if (body.removeType === 'OBJECT_TABLE') return 'drop_table';
      if (body.removeType === 'OBJECT_SCHEMA') return 'drop_schema';
      return 'drop_other';
    case 'DropdbStmt':
      return 'drop_database';
    case 'TruncateStmt':
      return 'truncate';
    case 'AlterSystemStmt':
      return 'alter_system';
    case 'AlterTableStmt':
      return alterKind(body.objtype);
    case 'RenameStmt': {
      const t = body.renameType;
      if (t === 'OBJECT_COLUMN' || t === 'OBJECT_TABCONSTRAINT') return alterKind(body.relationType);
      return alterKind(t);
    }
    case 'AlterObjectSchemaStmt':
      return alterKind(body.objectType);
    case 'CopyStmt':
      return body.is_program ? 'copy_program' : 'copy';
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return body.is_grant ? 'grant' : 'revoke';
    case 'DoStmt':
      return 'do';
    case 'CallStmt':
      return 'call';
    case 'ExecuteStmt':
      return 'execute';
    case 'VariableSetStmt':
      return 'set';
    case 'TransactionStmt':
      return 'transaction';
    case 'ExplainStmt':
      return 'explain';
    case 'LoadStmt':
      return 'load';
    case 'IndexStmt':
    case 'ViewStmt':
    case 'RuleStmt':
    case 'DefineStmt':
    case 'CompositeTypeStmt':
    case 'ImportForeignSchemaStmt':
      return 'create';
    default:
      if (type.startsWith('Create')) return 'create';
      if (type.startsWith('Drop')) return 'drop_other';
      if (type.startsWith('Alter')) return 'alter_other';
      return 'other';
  }
}
