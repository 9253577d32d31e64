import { parseSync } from 'libpg-query';
import { initSqlParser, isSqlParserReady } from '../../policy/sql/classify.ts';

/** What a SQL-level PREPARE or DEALLOCATE did to the session's statement names (`deallocate: null`: DEALLOCATE ALL). */
export type NameChange = { readonly name: string; readonly text: string } | { readonly deallocate: string | null };

// Loaded here too: a connection without statement rules does not load it for its policy.
initSqlParser().catch(() => {});

/** Longer texts are parsed only by the classifier's bounded child process (policy/sql): their names stay unknown. */
const MAX_TEXT = 8 * 1024;

interface RawStatement {
  readonly stmt?: Record<string, Record<string, unknown>>;
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

/** The statement names the text's SQL EXECUTE statements run, in order (none when it cannot tell). */
export function executedNames(text: string): string[] {
  if (text.length > MAX_TEXT || !isSqlParserReady()) return [];
  try {
    const stmts = (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? [];
    return stmts.flatMap((s) => {
      const name = s.stmt?.ExecuteStmt?.name;
      return typeof name === 'string' ? [name] : [];
    });
  } catch {
    return [];
  }
}

/**
 * The name change made by the `index`-th statement of a Query or Parse text whose CommandComplete said PREPARE or
 * DEALLOCATE: the name and the PREPARE statement's own text (the statement it prepares, as written), or the name
 * deallocated. Undefined when it cannot tell (no parser, too long, not such a statement).
 */
export function nameChange(text: string, index: number): NameChange | undefined {
  if (text.length > MAX_TEXT || !isSqlParserReady()) return undefined;
  let stmts: RawStatement[];
  try {
    stmts = (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? [];
  } catch {
    return undefined;
  }
  const s = stmts[index];
  const prepare = s?.stmt?.PrepareStmt;
  if (prepare && typeof prepare.name === 'string') {
    // Locations are byte offsets into the UTF-8 text.
    const bytes = Buffer.from(text, 'utf8');
    const from = s.stmt_location ?? 0;
    const to = s.stmt_len === undefined || s.stmt_len === 0 ? bytes.length : from + s.stmt_len;
    return { name: prepare.name, text: bytes.toString('utf8', from, to).trim() };
  }
  const deallocate = s?.stmt?.DeallocateStmt;
  if (deallocate) return { deallocate: deallocate.isall === true || typeof deallocate.name !== 'string' ? null : deallocate.name };
  return undefined;
}
