/**
 * A small process-wide LRU in front of classifySql. Classification is a pure function of the text
 * and parsing dominates its cost (tens of µs), while clients repeat the same statement texts
 * (parameters travel separately), so decide() goes through here. Results are deeply frozen.
 */
import { classifySql, type SqlClassification } from './classify.ts';

const MAX_ENTRIES = 1024;
const MAX_TEXT = 8 * 1024;

const cache = new Map<string, SqlClassification>();

export function classifySqlCached(text: string): SqlClassification {
  if (text.length > MAX_TEXT) return freeze(classifySql(text));
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
