/**
 * A small process-wide LRU in front of classifySql. Classification is a pure function of the text
 * and parsing dominates its cost (tens of µs), while clients repeat the same statement texts
 * (parameters travel separately), so decide() goes through here. Results are deeply frozen.
 * Texts too long to classify on the event loop go to the parser pool (see parser-pool.ts).
 */
import { classifySql, isSqlParserHealthy, type SqlClassification } from './classify.ts';
import { INLINE_CHARS, ParserPool } from './parser-pool.ts';

const MAX_ENTRIES = 1024;

const cache = new Map<string, SqlClassification>();
let pool: ParserPool | undefined;

/** Whether `text` is classified on the event loop (classifySqlCached); otherwise only classifySqlLater reads it. */
export function classifiesInline(text: string): boolean {
  return text.length <= INLINE_CHARS && isSqlParserHealthy();
}

/** Classifies `text` in the parser pool, off the event loop; never rejects (failures are `parseError`). */
export function classifySqlLater(text: string): Promise<SqlClassification> {
  pool ??= new ParserPool();
  return pool.classify(text).then(freeze);
}

/** Ends the pool's workers (statements they were on become unknown). */
export function closeParserPool(): void {
  pool?.close();
  pool = undefined;
}

export function classifySqlCached(text: string): SqlClassification {
  if (!classifiesInline(text)) return freeze({ statements: [], parseError: 'statement too long to check without the parser pool' });
  const hit = cache.get(text);
  if (hit) {
    cache.delete(text);
    cache.set(text, hit);
    return hit;
  }
  const result = freeze(classifySql(text));
  cache.set(text, result);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  return result;
}

function freeze(c: SqlClassification): SqlClassification {
  for (const s of c.statements) {
    Object.freeze(s.tables);
    if (s.functions) Object.freeze(s.functions);
    if (s.effects) Object.freeze(s.effects).forEach((e) => Object.freeze(e));
    Object.freeze(s);
  }
  Object.freeze(c.statements);
  return Object.freeze(c);
}
