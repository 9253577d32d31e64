/**
 * Catalogue of server functions by effect. A call of a function not listed here is no effect by itself
 * (SELECT of user functions is normal; their bodies are checked when created through the gateway). A listed
 * function adds its effects to the statement that calls it, and where its effect depends on an argument:
 * - reads by name (`table_to_xml('payments', …)`): the named table counts as touched;
 * - SQL text run by the function (`query_to_xml('SELECT …', …)`): the text is classified as statements run;
 * - a setting name (`set_config('role', …)`): a SET;
 * and when that argument is not a literal (`query_to_xml($1, …)`, `set_config(x, …)`), the effect is unknown.
 *
 * Names are matched without a `pg_catalog.` prefix. A user function of the same name in another schema is
 * matched too (over-matching is the safe side).
 */
import type { Effect } from './effects.ts';
import { obj, relationName, sval, type Node } from './tree.ts';

export interface CallEffect {
  readonly effects: readonly Effect[];
  /** Relations read by name, lower-cased as the classifier reports every relation. */
  readonly tables: readonly string[];
  /** SQL texts the function runs. */
  readonly sql: readonly string[];
  readonly unknown?: string;
}

type Arg = { literal: string | undefined; integer: boolean };
type Inspect = (name: string, args: readonly Arg[]) => Partial<CallEffect>;

const FILE_READ = ['pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', 'pg_ls_logdir', 'pg_ls_waldir', 'pg_ls_tmpdir',
  'pg_ls_archive_statusdir', 'pg_ls_logicalsnapdir', 'pg_ls_logicalmapdir', 'pg_ls_replslotdir', 'pg_current_logfile'];
const FILE_WRITE = ['pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync', 'pg_logdir_ls'];
const LARGE_OBJECT = ['lo_creat', 'lo_create', 'lo_open', 'lo_close', 'loread', 'lowrite', 'lo_lseek', 'lo_lseek64', 'lo_tell', 'lo_tell64',
  'lo_truncate', 'lo_truncate64', 'lo_unlink', 'lo_get', 'lo_put', 'lo_from_bytea'];
const SERVER_ADMIN = ['pg_reload_conf', 'pg_terminate_backend', 'pg_cancel_backend', 'pg_signal_backend', 'pg_rotate_logfile', 'pg_promote',
  'pg_switch_wal', 'pg_create_restore_point', 'pg_backup_start', 'pg_backup_stop', 'pg_start_backup', 'pg_stop_backup',
  'pg_wal_replay_pause', 'pg_wal_replay_resume', 'pg_log_backend_memory_contexts', 'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot', 'pg_drop_replication_slot', 'pg_copy_physical_replication_slot', 'pg_copy_logical_replication_slot',
  'pg_replication_slot_advance', 'pg_replication_origin_create', 'pg_replication_origin_drop', 'pg_stat_reset', 'pg_stat_reset_shared',
  'pg_import_system_collations'];
/** Functions whose first argument names a relation whose rows they read (regclass or text). */
const READ_TABLE = ['table_to_xml', 'table_to_xmlschema', 'table_to_xml_and_xmlschema', 'get_raw_page', 'pgrowlocks'];
/** Functions that run SQL given as text, with the positions of those arguments. */
const RUN_SQL: Readonly<Record<string, readonly number[]>> = {
  query_to_xml: [0], query_to_xmlschema: [0], query_to_xml_and_xmlschema: [0], ts_stat: [0], crosstab: [0, 1],
  crosstab2: [0], crosstab3: [0], crosstab4: [0],
};
/** Functions whose reach no argument shows: every table of a schema or database, changes of every table, SQL built from arguments. */
const UNKNOWN: Readonly<Record<string, string>> = {
  schema_to_xml: 'reads every table of a schema', schema_to_xmlschema: 'reads every table of a schema',
  schema_to_xml_and_xmlschema: 'reads every table of a schema', database_to_xml: 'reads every table of the database',
  database_to_xmlschema: 'reads every table of the database', database_to_xml_and_xmlschema: 'reads every table of the database',
  pg_logical_slot_get_changes: 'reads the changes of every table', pg_logical_slot_peek_changes: 'reads the changes of every table',
  pg_logical_slot_get_binary_changes: 'reads the changes of every table', pg_logical_slot_peek_binary_changes: 'reads the changes of every table',
  connectby: 'builds SQL from its arguments',
  bt_page_items: 'reads the keys of an index', bt_multi_page_stats: 'reads the pages of an index', brin_page_items: 'reads the pages of an index',
};

const CATALOGUE = new Map<string, Inspect>();
const add = (names: readonly string[], inspect: Inspect): void => names.forEach((n) => CATALOGUE.set(n, inspect));

add(FILE_READ, () => ({ effects: ['file_read'] }));
add(FILE_WRITE, () => ({ effects: ['file_write'] }));
add(LARGE_OBJECT, () => ({ effects: ['large_object'] }));
add(['lo_import'], () => ({ effects: ['large_object', 'file_read'] }));
add(['lo_export'], () => ({ effects: ['large_object', 'file_write'] }));
add(SERVER_ADMIN, () => ({ effects: ['server_admin'] }));
// dblink can reach this same database as another role: what it runs cannot be judged here.
add(['dblink', 'dblink_exec', 'dblink_open', 'dblink_fetch', 'dblink_send_query', 'dblink_connect', 'dblink_connect_u', 'dblink_get_result'],
  (name) => ({ effects: ['remote'], unknown: `${name}() runs SQL on another connection` }));
add(['set_config'], (name, args) => (args[0]?.literal === undefined ? { effects: ['set'], unknown: `${name}() of a setting named at run time` } : { effects: ['set'] }));
add(READ_TABLE, (name, args) => {
  const t = args[0];
  if (t?.literal === undefined || t.integer) return { unknown: `${name}() of a table named at run time` };
  const table = regclassName(t.literal);
  return table ? { tables: [table] } : { unknown: `${name}() of a table name it cannot read` };
});
for (const [name, positions] of Object.entries(RUN_SQL)) {
  add([name], (n, args) => {
    const sql: string[] = [];
    for (const i of positions) {
      const a = args[i];
      if (a === undefined || (i > 0 && a.integer)) continue;
      if (a.literal === undefined) return { unknown: `${n}() of SQL built at run time` };
      sql.push(a.literal);
    }
    return { sql };
  });
}
for (const [name, why] of Object.entries(UNKNOWN)) add([name], (n) => ({ unknown: `${n}() ${why}` }));

/** Effects of a FuncCall node, or undefined when the function is not in the catalogue. */
export function callEffect(call: Node): CallEffect | undefined {
  const parts = (Array.isArray(call.funcname) ? call.funcname : []).map(sval);
  const last = parts[parts.length - 1];
  if (last === undefined) return undefined;
  const name = last.toLowerCase();
  const inspect = CATALOGUE.get(name);
  if (!inspect) return undefined;
  const args = (Array.isArray(call.args) ? call.args : []).map(argument);
  const r = inspect(name, args);
  return { effects: r.effects ?? [], tables: r.tables ?? [], sql: r.sql ?? [], unknown: r.unknown };
}

/** A string literal, possibly cast (`'payments'::regclass`); a named or VARIADIC argument is never a literal. */
function argument(node: unknown): Arg {
  let n = obj(node);
  const cast = obj(n?.TypeCast);
  if (cast) n = obj(cast.arg);
  const c = obj(n?.A_Const);
  if (!c) return { literal: undefined, integer: false };
  if (obj(c.ival) || obj(c.fval)) return { literal: undefined, integer: true };
  const s = obj(c.sval)?.sval;
  return { literal: typeof s === 'string' ? s : undefined, integer: false };
}

/** A relation name as regclass input reads it (dotted identifiers, quotes allowed), as the classifier names relations. */
export function regclassName(text: string): string | undefined {
  const parts: string[] = [];
  let i = 0;
  const s = text.trim();
  for (;;) {
    if (s[i] === '"') {
      let j = i + 1;
      let part = '';
      for (; j < s.length; j++) {
        if (s[j] === '"') {
          if (s[j + 1] === '"') {
            part += '"';
            j++;
            continue;
          }
          break;
        }
        part += s[j];
      }
      if (j >= s.length) return undefined;
      parts.push(part);
      i = j + 1;
    } else {
      const m = /^[^".\s]+/.exec(s.slice(i));
      if (!m) return undefined;
      parts.push(m[0].toLowerCase());
      i += m[0].length;
    }
    if (i === s.length) break;
    if (s[i] !== '.') return undefined;
    i++;
  }
  if (parts.length > 3) return undefined;
  return relationName(parts.length >= 2 ? parts[parts.length - 2] : undefined, parts[parts.length - 1]);
}
