/**
 * Statement classifier on the real PostgreSQL parser (libpg-query, WASM).
 *
 * `classifySql` walks the whole raw parse tree of every statement in the text and reports one
 * entry per statement that *does* something: the top-level statements, plus every statement
 * nested where PostgreSQL would run it: data-modifying CTEs, `EXPLAIN ANALYZE <stmt>`,
 * `PREPARE p AS <stmt>`, `DECLARE c CURSOR FOR <stmt>`, CREATE RULE actions, SQL function bodies
 * (`BEGIN ATOMIC …` and `LANGUAGE sql AS '…'`), static SQL in DO blocks and PL/pgSQL function
 * bodies. Plain sub-SELECTs (subqueries, view and CTAS definitions, `UPDATE … FROM (SELECT …)`)
 * are folded into the statement that contains them: their tables count as touched by it.
 *
 * What the tree cannot show is marked `unknown` (DO block, SQL-level EXECUTE of a statement not
 * prepared in the same text, CALL, function bodies that build SQL at run time or are written in
 * a language we cannot read). Function calls in SELECT are not unknown: a function's body is
 * checked when it is created through the gateway, not when it is called.
 *
 * Pure and synchronous once `initSqlParser()` has resolved; never throws on input (a parser or
 * walker failure becomes `parseError`).
 */
import { loadModule, parseSync } from 'libpg-query';
import { kindOf, type StatementKind } from './kinds.ts';
import { escapeVariant } from './escape-variant.ts';
import { statementEffects, type StatementEffect } from './effects.ts';
import { callEffect } from './functions.ts';
import { inspectPlpgsql } from './plpgsql.ts';
import { defElemString, defElemStrings, explainExecutes, obj, qualifiedName, relationName, sval, type Node } from './tree.ts';
import { restrictsRows } from './where.ts';

export type { StatementKind } from './kinds.ts';

export interface ClassifiedStatement {
  kind: StatementKind;
  /**
   * Every relation touched, lower-cased, schema-qualified when written so (`public.users`, `users`).
   * Includes CTE names and views as written: the parse tree cannot tell them from tables.
   */
  tables: string[];
  /** For update/delete: false when there is no WHERE or it is constant-true (best effort). */
  hasWhere?: boolean;
  /** Why the parse tree cannot show the effect ('DO block', 'dynamic EXECUTE', 'procedure CALL', …). */
  unknown?: string;
  /** COPY … FROM (data flows into the table). */
  copyFrom?: boolean;
  /** Functions called, lower-cased, schema-qualified when written so. */
  functions?: string[];
  /** What the statement also does (effects.ts): MERGE's deletes, set_config's SET, pg_read_file's file read… */
  effects?: StatementEffect[];
}

export interface SqlClassification {
  statements: ClassifiedStatement[];
  parseError?: string;
}

export const UNKNOWN_DO = 'DO block';
export const UNKNOWN_EXECUTE = 'dynamic EXECUTE';
export const UNKNOWN_CALL = 'procedure CALL';

let ready = false;
let loading: Promise<void> | undefined;

/** Loads the parser's WASM module once; safe to call any number of times. */
export function initSqlParser(): Promise<void> {
  if (ready) return Promise.resolve();
  loading ??= loadModule().then(
    () => {
      ready = true;
    },
    (err: unknown) => {
      loading = undefined;
      throw err;
    },
  );
  return loading;
}

export function isSqlParserReady(): boolean {
  return ready;
}

let trapped = false;

/** False once the parser has trapped (a WebAssembly RuntimeError or abort): its memory may be corrupt, so it is not used again. */
export function isSqlParserHealthy(): boolean {
  return !trapped;
}

export function classifySql(text: string): SqlClassification {
  if (!ready) throw new Error('SQL parser not loaded: await initSqlParser() before classifying SQL');
  if (text === '') return { statements: [] }; // the parser rejects it; PostgreSQL answers EmptyQueryResponse
  // The parser reads a C string: a NUL would hide everything after it. PostgreSQL rejects such
  // messages anyway, so refuse to classify rather than classify a prefix.
  if (text.includes('\0')) return { statements: [], parseError: 'statement contains a NUL byte' };
  try {
    const walker = new Walker();
    walker.parseText(String(text), null);
    return { statements: walker.result() };
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError || (err instanceof Error && /^Aborted\(/.test(err.message))) trapped = true;
    return { statements: [], parseError: errorMessage(err) };
  }
}

interface Draft {
  kind: StatementKind;
  tables: Set<string>;
  functions: Set<string>;
  /** By kind; an unrestricted update or delete wins over a restricted one. */
  effects: Map<string, StatementEffect>;
  hasWhere?: boolean;
  unknown?: string;
  copyFrom?: boolean;
}

/** Nesting of SQL found inside strings (function bodies, DO blocks) we follow before giving up. */
const MAX_TEXT_DEPTH = 4;
/** Texts found inside strings (function body statements, PL/pgSQL expressions) parsed per classification; past it, unknown. */
const MAX_NESTED_TEXTS = 5_000;
const STMT_KEY = /^[A-Z][A-Za-z]*Stmt$/;
/** Keys under which a statement names a function it does not call there (ObjectWithArgs, triggers, conversions, languages). */
const FUNCTION_NAME_KEYS = new Set(['objname', 'funcname', 'func_name', 'plhandler', 'plinline', 'plvalidator', 'handler_name']);
const RELATION_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE', 'OBJECT_INDEX']);

class Walker {
  private readonly out: Draft[] = [];
  private readonly prepared = new Set<string>();
  private textDepth = 0;
  private nestedTexts = 0;

  /** Counts one nested text against MAX_NESTED_TEXTS; false (and `d` unknown) once past it. */
  private withinBudget(d: Draft, what: string): boolean {
    if (++this.nestedTexts <= MAX_NESTED_TEXTS) return true;
    d.unknown ??= `${what}: too many statements to check`;
    return false;
  }

  result(): ClassifiedStatement[] {
    return this.out.map((d) => {
      const s: ClassifiedStatement = { kind: d.kind, tables: [...d.tables] };
      if (d.kind === 'update' || d.kind === 'delete') s.hasWhere = d.hasWhere ?? false;
      if (d.unknown) s.unknown = d.unknown;
      if (d.copyFrom) s.copyFrom = true;
      if (d.functions.size > 0) s.functions = [...d.functions];
      if (d.effects.size > 0) s.effects = [...d.effects.values()];
      return s;
    });
  }

  /**
   * Parses `text` and classifies each statement. Top level (`parent` null): parse errors throw.
   * Nested (a body inside `parent`): too deep or unparseable marks the parent unknown.
   */
  parseText(text: string, parent: Draft | null, what = 'body'): void {
    if (parent && this.textDepth >= MAX_TEXT_DEPTH) {
      parent.unknown ??= `${what} nested too deeply`;
      return;
    }
    if (parent && !this.withinBudget(parent, what)) return;
    // Both readings of backslashes in '…' literals (see escape-variant.ts). They tokenise alike, so
    // the default reading decides whether the text parses; the escape reading adds what it shows.
    const primary = tryParse(text);
    if (!primary.tree) {
      if (!parent) throw primary.error;
      parent.unknown ??= `${what} could not be parsed`;
      return;
    }
    const alt = escapeVariant(text);
    if (alt.kind === 'ambiguous') {
      if (!parent) throw new Error('a string literal reads differently with standard_conforming_strings off (backslash before a quote)');
      parent.unknown ??= `${what} has a string literal that depends on standard_conforming_strings`;
      return;
    }
    const secondary = alt.kind === 'variant' ? tryParse(alt.text) : undefined;
    this.textDepth++;
    try {
      const start = this.out.length;
      this.walkTree(primary.tree, text);
      if (secondary?.tree && alt.kind === 'variant') {
        const mark = this.out.length;
        this.walkTree(secondary.tree, alt.text);
        this.dropRepeats(start, mark);
      }
    } finally {
      this.textDepth--;
    }
  }

  private walkTree(tree: ParseTree, text: string): void {
    let bytes: Buffer | undefined;
    for (const raw of tree.stmts ?? []) {
      const stmt = obj(raw.stmt);
      if (!stmt) continue;
      const sliceText = (): string => {
        bytes ??= Buffer.from(text, 'utf8');
        const start = raw.stmt_location ?? 0;
        return bytes.subarray(start, raw.stmt_len ? start + raw.stmt_len : undefined).toString('utf8');
      };
      for (const [type, body] of Object.entries(stmt)) {
        if (obj(body)) this.statement(type, body as Node, null, false, sliceText);
      }
    }
  }

  /** Drops statements from out[mark…] that repeat one of out[start…mark) (the second reading agreeing with the first). */
  private dropRepeats(start: number, mark: number): void {
    const seen = new Set(this.out.slice(start, mark).map(draftKey));
    const extra = this.out.slice(mark).filter((d) => !seen.has(draftKey(d)));
    this.out.length = mark;
    this.out.push(...extra);
  }

  /** Classifies `SELECT <expr>`-style text and folds what it touches into `into`; what cannot be read makes it unknown. */
  private foldText(text: string, into: Draft): void {
    if (this.textDepth >= MAX_TEXT_DEPTH) {
      into.unknown ??= 'PL/pgSQL expression nested too deeply';
      return;
    }
    if (!this.withinBudget(into, 'PL/pgSQL expression')) return;
    const parsed = tryParse(text);
    if (!parsed.tree) {
      into.unknown ??= 'PL/pgSQL expression could not be parsed';
      return;
    }
    this.visit(parsed.tree, into, true);
  }

  /** A call of a catalogued server function (functions.ts) adds its effects, the tables it reads by name and the SQL it runs. */
  private call(d: Draft, node: unknown): void {
    const call = obj(node);
    if (!call) return;
    addFunction(d, call.funcname);
    const e = callEffect(call);
    if (!e) return;
    for (const kind of e.effects) addEffect(d, { kind });
    for (const t of e.tables) d.tables.add(t);
    if (e.unknown) d.unknown ??= e.unknown;
    for (const sql of e.sql) this.parseText(sql, d, 'SQL run by a function');
  }

  /**
   * A catalogued function named without being called here (`CREATE OPERATOR … (FUNCTION = pg_read_file)`,
   * `CREATE AGGREGATE … (SFUNC = set_config)`, `CREATE CAST … WITH FUNCTION`): whatever then runs it reaches its
   * effects with arguments not written here, so it has the function's effects and is unknown.
   */
  private reference(d: Draft, names: unknown): void {
    if (!Array.isArray(names) || names.length === 0 || !names.every((n) => sval(n) !== undefined)) return;
    const e = callEffect({ funcname: names, args: [] });
    if (!e) return;
    for (const kind of e.effects) addEffect(d, { kind });
    d.unknown ??= `${qualifiedName(names)}() named by a definition, to be run with arguments not written here`;
  }

  private visit(v: unknown, cur: Draft | null, fold: boolean): void {
    if (Array.isArray(v)) {
      for (const x of v) this.visit(x, cur, fold);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Node;
    if (cur && typeof o.relname === 'string') cur.tables.add(relationName(o.schemaname, o.relname));
    for (const key in o) {
      const child = o[key];
      if (STMT_KEY.test(key) && obj(child)) {
        this.statement(key, child as Node, cur, fold);
        continue;
      }
      if (key === 'FuncCall' && cur) {
        this.call(cur, child);
        const c = obj(child);
        if (c) for (const k in c) if (k !== 'funcname') this.visit(c[k], cur, fold);
        continue;
      }
      if (cur && FUNCTION_NAME_KEYS.has(key)) this.reference(cur, child);
      if (cur && key === 'DefElem') this.reference(cur, definedFunction(child));
      this.visit(child, cur, fold);
    }
  }

  private statement(type: string, body: Node, cur: Draft | null, fold: boolean, text?: () => string): void {
    // Inside a non-executing EXPLAIN or a PL/pgSQL expression: only collect what is touched.
    if (fold && cur) {
      if (type === 'DropStmt') addDropped(cur, body);
      this.visit(body, cur, true);
      return;
    }
    // A sub-SELECT belongs to the statement that contains it.
    if (type === 'SelectStmt' && cur && !body.intoClause) {
      this.visit(body, cur, false);
      return;
    }
    // Wrappers that are not themselves effects: classify what they wrap.
    if (type === 'PrepareStmt') {
      if (typeof body.name === 'string') this.prepared.add(body.name);
      this.visit(body.query, null, false);
      return;
    }
    if (type === 'DeclareCursorStmt') {
      this.visit(body.query, null, false);
      return;
    }

    const d: Draft = { kind: kindOf(type, body), tables: new Set(), functions: new Set(), effects: new Map() };
    for (const e of statementEffects(type, body)) addEffect(d, e);
    this.out.push(d);
    switch (type) {
      case 'DeleteStmt':
      case 'UpdateStmt':
        d.hasWhere = restrictsRows(body.whereClause);
        break;
      case 'CopyStmt':
        if (body.is_from) d.copyFrom = true;
        break;
      case 'DropStmt':
        addDropped(d, body);
        break;
      case 'ExecuteStmt':
        if (typeof body.name !== 'string' || !this.prepared.has(body.name)) d.unknown = UNKNOWN_EXECUTE;
        break;
      case 'CallStmt':
        d.unknown = UNKNOWN_CALL;
        addFunction(d, obj(body.funccall)?.funcname);
        break;
      case 'DoStmt':
        d.unknown = UNKNOWN_DO;
        this.doBlock(d, body, text);
        break;
      case 'CreateFunctionStmt':
        this.functionBody(d, body, text);
        break;
      // A subscription applies another server's inserts, updates, deletes and truncates to tables here.
      case 'CreateSubscriptionStmt':
      case 'AlterSubscriptionStmt':
        d.unknown = 'subscription: applies changes another server sends';
        break;
      case 'CreatePublicationStmt':
      case 'AlterPublicationStmt':
        if (body.for_all_tables || JSON.stringify(body.pubobjects ?? []).includes('PUBLICATIONOBJ_TABLES_IN')) d.unknown = 'publication of every table of a schema or the database';
        break;
      case 'ExplainStmt':
        // EXPLAIN ANALYZE runs the statement; plain EXPLAIN only plans it.
        if (explainExecutes(body.options)) this.visit(body.query, null, false);
        else this.visit(body.query, d, true);
        return;
    }
    this.visit(body, d, false);
  }

  private doBlock(d: Draft, body: Node, text?: () => string): void {
    const language = defElemString(body.args, 'language') ?? 'plpgsql';
    if (language.toLowerCase() !== 'plpgsql' || !text) return;
    const info = inspectPlpgsql(text());
    if (!info) return;
    if (info.incomplete) d.unknown ??= 'DO block too large to check';
    for (const sql of info.statements) this.parseText(sql, d, 'DO block statement');
    for (const expr of info.expressions) this.foldText(expr, d);
  }

  /**
   * A function body runs later, whenever the function is called (a plain SELECT f()), so it is
   * checked now: its statements are classified as if run, and a body we cannot read makes the
   * CREATE itself unknown.
   */
  private functionBody(d: Draft, body: Node, text?: () => string): void {
    if (body.sql_body) return; // BEGIN ATOMIC …: parsed already, the generic walk sees it
    const language = (defElemString(body.options, 'language') ?? 'sql').toLowerCase();
    const as = defElemStrings(body.options, 'as');
    if (as.length === 0) return; // no body (e.g. a bare signature change); nothing runs
    if (language === 'sql') {
      this.parseText(as[0] ?? '', d, 'SQL function body');
      return;
    }
    if (language === 'plpgsql') {
      const info = text ? inspectPlpgsql(text()) : undefined;
      if (!info) {
        d.unknown ??= 'PL/pgSQL function body could not be parsed';
        return;
      }
      if (info.incomplete) d.unknown ??= 'PL/pgSQL function body too large to check';
      if (info.dynamic) d.unknown ??= 'dynamic EXECUTE in function body';
      for (const sql of info.statements) this.parseText(sql, d, 'PL/pgSQL function statement');
      for (const expr of info.expressions) this.foldText(expr, d);
      return;
    }
    d.unknown ??= `function body in language ${language}`;
  }
}

type ParseTree = { stmts?: { stmt?: unknown; stmt_location?: number; stmt_len?: number }[] };

function tryParse(text: string): { tree?: ParseTree; error?: unknown } {
  try {
    return { tree: parseSync(text) as ParseTree };
  } catch (error) {
    return { error };
  }
}

function draftKey(d: Draft): string {
  return JSON.stringify([d.kind, [...d.tables].sort(), d.hasWhere, d.unknown, d.copyFrom, [...d.functions].sort(), [...d.effects.values()]]);
}

function addEffect(d: Draft, e: StatementEffect): void {
  const had = d.effects.get(e.kind);
  if (!had || had.hasWhere === true) d.effects.set(e.kind, e);
}

function addFunction(d: Draft, funcname: unknown): void {
  const name = qualifiedName(funcname);
  if (name) d.functions.add(name);
}

/** DROP TABLE/VIEW/INDEX… name the dropped relations as string lists, not RangeVars. */
function addDropped(d: Draft, body: Node): void {
  if (typeof body.removeType !== 'string' || !RELATION_OBJECTS.has(body.removeType)) return;
  for (const o of (body.objects as unknown[] | undefined) ?? []) {
    const items = obj(obj(o)?.List)?.items;
    if (!Array.isArray(items)) continue;
    const parts = items.map(sval).filter((s): s is string => s !== undefined);
    const rel = parts[parts.length - 1];
    if (rel !== undefined) d.tables.add(relationName(parts.length >= 2 ? parts[parts.length - 2] : undefined, rel));
  }
}

/** The name list of a definition option naming a function (`FUNCTION = f`, `SFUNC = f`: a TypeName or a name list). */
function definedFunction(defElem: unknown): unknown {
  const arg = obj(obj(defElem)?.arg);
  return obj(arg?.TypeName)?.names ?? obj(arg?.List)?.items;
}

function errorMessage(err: unknown): string {
  if (err instanceof RangeError) return 'statement too deeply nested to check';
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
