/**
 * Effects: what a statement does beyond what its node type says, so that a rule naming an effect covers every
 * statement that has it (rules name effects, not syntax).
 *
 * A statement's `effects` are statement kinds it also has and effect names of server functions it calls
 * (functions.ts). An added `update` or `delete` effect counts as one without WHERE (`hasWhere: false`) unless the
 * rows it reaches are bounded by the statement's own literal rows (`INSERT … VALUES … ON CONFLICT DO UPDATE`):
 * they depend on a join or on data (MERGE, `INSERT … SELECT … ON CONFLICT DO UPDATE`), or are all rows
 * (ALTER COLUMN … TYPE … USING).
 */
import type { StatementKind } from './kinds.ts';
import { defElemString, defElems, obj, relationName, type Node } from './tree.ts';

/** Effects of server functions and of some statements, named in rules like statement kinds. */
export const EFFECT_NAMES = ['file_read', 'file_write', 'large_object', 'remote', 'server_admin'] as const;
export type EffectName = (typeof EFFECT_NAMES)[number];
export type Effect = StatementKind | EffectName;

export interface StatementEffect {
  readonly kind: Effect;
  /** For an update or delete effect: whether the rows it reaches are restricted. */
  readonly hasWhere?: boolean;
}

export const EFFECT_LABELS: Readonly<Record<EffectName, string>> = {
  file_read: 'reads server files',
  file_write: 'writes server files',
  large_object: 'large objects',
  remote: 'reaches another server',
  server_admin: 'server administration',
};

const RELATION_RENAMES = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE']);
/** Role attributes and memberships that give privileges (CREATE/ALTER ROLE … SUPERUSER, IN ROLE, ROLE, ADMIN). */
const PRIVILEGED_ROLE_OPTIONS = new Set(['superuser', 'createrole', 'createdb', 'replication', 'bypassrls', 'addroleto', 'rolemembers', 'adminmembers']);
/** Settings for later sessions or the whole server. */
const LASTING_SETTINGS = new Set(['AlterRoleSetStmt', 'AlterDatabaseSetStmt', 'AlterSystemStmt']);
const FOREIGN = new Set(['CreateForeignServerStmt', 'AlterForeignServerStmt', 'CreateUserMappingStmt', 'AlterUserMappingStmt', 'CreateForeignTableStmt', 'ImportForeignSchemaStmt', 'CreateFdwStmt', 'AlterFdwStmt']);

/** The effects a statement node has besides its kind. */
export function statementEffects(type: string, body: Node): StatementEffect[] {
  if (type === 'InsertStmt') return upsertEffects(body);
  return effectKinds(type, body).map((kind) => (kind === 'update' || kind === 'delete' ? { kind, hasWhere: false } : { kind }));
}

function upsertEffects(body: Node): StatementEffect[] {
  if (obj(body.onConflictClause)?.action !== 'ONCONFLICT_UPDATE') return [];
  const values = obj(obj(body.selectStmt)?.SelectStmt)?.valuesLists;
  return [{ kind: 'update', hasWhere: Array.isArray(values) }];
}

function effectKinds(type: string, body: Node): Effect[] {
  if (FOREIGN.has(type)) return ['remote'];
  if (LASTING_SETTINGS.has(type)) return ['set'];
  switch (type) {
    case 'TruncateStmt':
      return ['delete'];
    // DISCARD ALL is RESET ALL and SET SESSION AUTHORIZATION DEFAULT, among others.
    case 'DiscardStmt':
      return body.target === 'DISCARD_ALL' ? ['set'] : [];
    // Code loaded into the server: a C function's library, an extension's scripts and libraries.
    case 'CreateFunctionStmt':
      return (defElemString(body.options, 'language') ?? '').toLowerCase() === 'c' ? ['load'] : [];
    case 'CreateExtensionStmt':
      return ['load'];
    case 'CreateRoleStmt':
    case 'AlterRoleStmt':
      return defElems(body.options).some(grantsPrivilege) ? ['grant'] : [];
    case 'AlterOwnerStmt':
    case 'ReassignOwnedStmt':
      return ['grant'];
    case 'MergeStmt':
      return mergeEffects(body);
    case 'UpdateStmt':
      // pg_settings is a view whose UPDATE is set_config().
      return relationName(obj(body.relation)?.schemaname, obj(body.relation)?.relname).replace(/^pg_catalog\./, '') === 'pg_settings' ? ['set'] : [];
    case 'AlterTableStmt':
      return alterTableEffects(body);
    case 'DropStmt':
      // CASCADE drops what depends on the object: tables of a schema or extension, columns of a type…
      return body.behavior === 'DROP_CASCADE' || body.removeType === 'OBJECT_EXTENSION' ? ['drop_table'] : [];
    case 'DropOwnedStmt':
    case 'DropdbStmt':
      return ['drop_table'];
    case 'RenameStmt':
      // A renamed table (or schema, or database) is gone under its name: to whoever uses that name, a drop.
      // ALTER INDEX … RENAME renames any relation, a table too (PostgreSQL allows it for compatibility).
      if (typeof body.renameType === 'string' && (RELATION_RENAMES.has(body.renameType) || body.renameType === 'OBJECT_INDEX')) return ['drop_table'];
      if (body.renameType === 'OBJECT_SCHEMA') return ['drop_schema', 'drop_table'];
      if (body.renameType === 'OBJECT_DATABASE') return ['drop_database', 'drop_table'];
      return [];
    case 'AlterObjectSchemaStmt':
      return typeof body.objectType === 'string' && RELATION_RENAMES.has(body.objectType) ? ['drop_table'] : [];
    case 'AlterDefaultPrivilegesStmt':
      return [obj(body.action)?.is_grant ? 'grant' : 'revoke'];
    case 'CopyStmt':
      if (body.is_program || typeof body.filename !== 'string') return [];
      return [body.is_from ? 'file_read' : 'file_write'];
    default:
      return [];
  }
}

/** A privileged role attribute set to true, or a role list (IN ROLE, ROLE, ADMIN). */
function grantsPrivilege(o: Node): boolean {
  if (typeof o.defname !== 'string' || !PRIVILEGED_ROLE_OPTIONS.has(o.defname)) return false;
  const b = obj(obj(o.arg)?.Boolean);
  return b === undefined || b.boolval === true;
}

function mergeEffects(body: Node): Effect[] {
  const out = new Set<Effect>();
  for (const w of (body.mergeWhenClauses as unknown[] | undefined) ?? []) {
    const command = obj(obj(w)?.MergeWhenClause)?.commandType;
    if (command === 'CMD_DELETE') out.add('delete');
    else if (command === 'CMD_UPDATE') out.add('update');
    else if (command === 'CMD_INSERT') out.add('insert');
  }
  return [...out];
}

function alterTableEffects(body: Node): Effect[] {
  const out = new Set<Effect>();
  for (const c of (body.cmds as unknown[] | undefined) ?? []) {
    const cmd = obj(obj(c)?.AlterTableCmd);
    if (!cmd) continue;
    // USING rewrites every row with an expression of the old values.
    if (cmd.subtype === 'AT_AlterColumnType' && obj(cmd.def) && obj(obj(cmd.def)?.ColumnDef)?.raw_default !== undefined) out.add('update');
    if (cmd.subtype === 'AT_DropColumn') out.add('drop_other');
    if (cmd.behavior === 'DROP_CASCADE') out.add('drop_table');
    if (cmd.subtype === 'AT_ChangeOwner') out.add('grant');
  }
  return [...out];
}
