/**
 * Does a WHERE clause restrict anything? Best effort, from the raw parse tree only.
 *
 * A WHERE that is constant-true (`WHERE true`, `WHERE 1=1`, `WHERE 'a' = 'a'`, `WHERE id = id`,
 * `WHERE NOT false`, `WHERE x OR true`, `WHERE NULL IS NULL`, `WHERE 't'::bool`, `WHERE EXISTS (SELECT 1)`)
 * counts as no WHERE at all. Tautologies that need catalog knowledge or real evaluation
 * (`id > 0` on a serial key, `x LIKE '%'`, `id IN (SELECT id FROM t)`, `coalesce(x, 1) = coalesce(x, 1)` with
 * volatile functions…) are not detected: this is a guard rail against mistakes, not against a determined user.
 */

import { obj } from './tree.ts';

type Node = Record<string, unknown>;
type Const = { t: 'num'; v: number } | { t: 'str'; v: string } | { t: 'bool'; v: boolean } | { t: 'null' };

const TRUE_WORDS = new Set(['t', 'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['f', 'fa', 'fal', 'fals', 'false', 'n', 'no', 'of', 'off', '0']);
const BOOL_TYPES = new Set(['bool', 'boolean']);

function constOf(node: unknown): Const | undefined {
  const n = obj(node);
  if (!n) return undefined;
  const c = obj(n.A_Const);
  if (c) {
    if (c.isnull) return { t: 'null' };
    if (c.boolval) return { t: 'bool', v: obj(c.boolval)?.boolval === true };
    if (c.ival) return { t: 'num', v: Number(obj(c.ival)?.ival ?? 0) };
    if (c.fval) return { t: 'num', v: Number(obj(c.fval)?.fval ?? 0) };
    if (c.sval) return { t: 'str', v: String(obj(c.sval)?.sval ?? '') };
    return undefined;
  }
  const cast = obj(n.TypeCast);
  if (cast) {
    const inner = constOf(cast.arg);
    if (!inner) return undefined;
    const names = (obj(cast.typeName)?.names as unknown[] | undefined) ?? [];
    const last = obj(obj(names[names.length - 1])?.String)?.sval;
    if (typeof last === 'string' && BOOL_TYPES.has(last.toLowerCase())) {
      const b = truthOf(inner);
      return b === undefined ? undefined : { t: 'bool', v: b };
    }
    return inner;
  }
  return undefined;
}

/** Boolean value of a constant as PostgreSQL would coerce it in a WHERE; undefined when unknown. */
function truthOf(c: Const): boolean | undefined {
  switch (c.t) {
    case 'bool':
      return c.v;
    case 'null':
      return false;
    case 'num':
      return c.v !== 0;
    case 'str': {
      const w = c.v.trim().toLowerCase();
      if (TRUE_WORDS.has(w)) return true;
      if (FALSE_WORDS.has(w)) return false;
      return undefined;
    }
  }
}

function compareConsts(op: string, a: Const, b: Const): boolean | undefined {
  if (a.t === 'null' || b.t === 'null') return false; // NULL compared to anything is never true
  let x: number | string | boolean = a.v;
  let y: number | string | boolean = b.v;
  if (typeof x !== typeof y) {
    const nx = Number(x);
    const ny = Number(y);
    if (Number.isNaN(nx) || Number.isNaN(ny)) return undefined;
    x = nx;
    y = ny;
  }
  switch (op) {
    case '=':
      return x === y;
    case '<>':
    case '!=':
      return x !== y;
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    case '>=':
      return x >= y;
    default:
      return undefined;
  }
}

/** Structural equality ignoring source locations. */
function sameExpr(a: unknown, b: unknown): boolean {
  return a !== undefined && strip(a) === strip(b);
}

function strip(v: unknown): string {
  return JSON.stringify(v, (k, val: unknown) => (k === 'location' ? undefined : val));
}

function opName(e: Node): string | undefined {
  const names = e.name as unknown[] | undefined;
  const s = obj(obj(names?.[names.length - 1])?.String)?.sval;
  return typeof s === 'string' ? s : undefined;
}

/** Value of a boolean expression when it does not depend on the row; undefined when it might. */
export function constantTruth(node: unknown, depth = 0): boolean | undefined {
  if (depth > 64) return undefined;
  const n = obj(node);
  if (!n) return undefined;
  const c = constOf(n);
  if (c) return truthOf(c);

  const b = obj(n.BoolExpr);
  if (b) {
    const args = (b.args as unknown[] | undefined) ?? [];
    const vals = args.map((a) => constantTruth(a, depth + 1));
    if (b.boolop === 'NOT_EXPR') return vals[0] === undefined ? undefined : !vals[0];
    if (b.boolop === 'AND_EXPR') {
      if (vals.some((v) => v === false)) return false;
      return vals.every((v) => v === true) ? true : undefined;
    }
    if (b.boolop === 'OR_EXPR') {
      if (vals.some((v) => v === true)) return true;
      return vals.every((v) => v === false) ? false : undefined;
    }
    return undefined;
  }

  const e = obj(n.A_Expr);
  if (e) {
    const op = opName(e);
    if (e.kind === 'AEXPR_OP' && op) {
      const l = constOf(e.lexpr);
      const r = constOf(e.rexpr);
      if (l && r) return compareConsts(op, l, r);
      // `id = id`, `x >= x`: true for every row where the column is not null. Close enough for a guard rail.
      if ((op === '=' || op === '<=' || op === '>=') && sameExpr(e.lexpr, e.rexpr)) return true;
      return undefined;
    }
    if (e.kind === 'AEXPR_NOT_DISTINCT' && sameExpr(e.lexpr, e.rexpr)) return true;
    return undefined;
  }

  const nt = obj(n.NullTest);
  if (nt) {
    const arg = constOf(nt.arg);
    if (!arg) return undefined;
    const isNull = arg.t === 'null';
    return nt.nulltesttype === 'IS_NULL' ? isNull : !isNull;
  }

  const bt = obj(n.BooleanTest);
  if (bt) {
    const v = constantTruth(bt.arg, depth + 1);
    if (v === undefined) return undefined;
    switch (bt.booltesttype) {
      case 'IS_TRUE':
        return v;
      case 'IS_NOT_FALSE':
        return v;
      case 'IS_FALSE':
        return !v;
      case 'IS_NOT_TRUE':
        return !v;
      default:
        return undefined;
    }
  }

  const sl = obj(n.SubLink);
  if (sl && sl.subLinkType === 'EXISTS_SUBLINK') {
    // EXISTS (SELECT <anything>) with no FROM and no WHERE always returns a row.
    const sel = obj(obj(sl.subselect)?.SelectStmt);
    const simple = sel && (!sel.op || sel.op === 'SETOP_NONE');
    if (simple && !sel.fromClause && !sel.whereClause && !sel.havingClause && !sel.limitCount) return true;
    return undefined;
  }
  return undefined;
}

/** Whether an UPDATE/DELETE WHERE clause actually restricts rows (absent or constant-true → false). */
export function restrictsRows(whereClause: unknown): boolean {
  if (whereClause === undefined || whereClause === null) return false;
  return constantTruth(whereClause) !== true;
}
