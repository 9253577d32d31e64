import { parsePlPgSQLSync } from 'libpg-query';

/**
 * What the PL/pgSQL parser can see inside a DO block or a `LANGUAGE plpgsql` function body:
 * the static SQL statements it runs, the SQL expressions it evaluates, and whether it builds
 * SQL at run time (EXECUTE, OPEN … FOR EXECUTE, FOR … IN EXECUTE, RETURN QUERY EXECUTE).
 *
 * Best effort: the PL/pgSQL compiler rejects some valid bodies without a catalog (record loop
 * variables, RETURN QUERY outside a SETOF function…); then nothing is returned and the caller
 * keeps whatever else it knows (a DO block stays `unknown` either way).
 */
export interface PlpgsqlBody {
  /** Static SQL statements (parse mode 0), e.g. `DELETE FROM t`, `SELECT g()` for PERFORM. */
  readonly statements: string[];
  /** SQL expressions (`x := (SELECT …)`, IF conditions), given as `SELECT <expr>` text. */
  readonly expressions: string[];
  /** SQL text built at run time. */
  readonly dynamic: boolean;
  /** The body was larger than the walk looks at (MAX_NODES): what is listed is not all it runs. */
  readonly incomplete: boolean;
}

const MAX_NODES = 200_000;

export function inspectPlpgsql(statementText: string): PlpgsqlBody | undefined {
  let tree: unknown;
  try {
    tree = parsePlPgSQLSync(statementText);
  } catch {
    return undefined;
  }
  const body = { statements: [] as string[], expressions: [] as string[], dynamic: false, incomplete: false };
  const stack: unknown[] = [tree];
  let seen = 0;
  while (stack.length > 0) {
    if (++seen > MAX_NODES) {
      body.incomplete = true;
      break;
    }
    const v = stack.pop();
    if (Array.isArray(v)) {
      for (const x of v) stack.push(x);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
      if (key === 'PLpgSQL_stmt_dynexecute' || key === 'PLpgSQL_stmt_dynfors' || key === 'dynquery') body.dynamic = true;
      if (key === 'PLpgSQL_expr' && child !== null && typeof child === 'object') {
        const { query, parseMode } = child as { query?: unknown; parseMode?: unknown };
        if (typeof query === 'string') {
          // Parse modes: 0 statement, 1 type name, 2 expression, 3–5 assignment (`a := expr`).
          if (!parseMode) body.statements.push(query);
          else if (parseMode === 2) body.expressions.push(`SELECT ${query}`);
          else if (typeof parseMode === 'number' && parseMode >= 3) body.expressions.push(assignmentAsSelect(query));
        }
        continue;
      }
      stack.push(child);
    }
  }
  return body;
}

/** `n := (SELECT …)`, `"a b".c[1] = expr` → `SELECT expr`; a target it cannot read is left in (the text then does not parse: unknown). */
function assignmentAsSelect(expr: string): string {
  const end = assignmentTargetEnd(expr);
  return `SELECT ${end === undefined ? expr : expr.slice(end)}`;
}

/** Offset just past `target :=` / `target =`, where target is dotted identifiers (quoted or not) with subscripts. */
function assignmentTargetEnd(s: string): number | undefined {
  let i = /^\s*/.exec(s)![0].length;
  for (;;) {
    if (s[i] === '"') {
      i++;
      for (;;) {
        const q = s.indexOf('"', i);
        if (q < 0) return undefined;
        i = q + 1;
        if (s[i] !== '"') break;
        i++;
      }
    } else {
      const m = /^[\p{L}_\x80-\uffff][\p{L}\p{N}_$\x80-\uffff]*/u.exec(s.slice(i));
      if (!m) return undefined;
      i += m[0].length;
    }
    while (s[i] === '[') {
      let depth = 0;
      for (; i < s.length; i++) {
        if (s[i] === '[') depth++;
        else if (s[i] === ']' && --depth === 0) break;
      }
      if (i >= s.length) return undefined;
      i++;
    }
    i += /^\s*/.exec(s.slice(i))![0].length;
    if (s[i] !== '.') break;
    i++;
    i += /^\s*/.exec(s.slice(i))![0].length;
  }
  const op = /^(?::=|=)\s*/.exec(s.slice(i));
  return op ? i + op[0].length : undefined;
}
