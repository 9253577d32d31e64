import { AirlockError, ErrorCodes } from '../core/errors.ts';

/**
 * Keyset cursor over a newest-first list: the time of the last item served and the keys of the items served
 * at exactly that time (ties), so the next page asks the store for `until = t` and skips those. Opaque to
 * clients (base64url JSON).
 */
export interface Cursor {
  readonly t: number;
  readonly k: readonly string[];
}

export function encodeCursor<T>(page: readonly T[], time: (item: T) => number, key: (item: T) => string, previous?: Cursor): string {
  const t = time(page[page.length - 1]);
  const k = page.filter((i) => time(i) === t).map(key);
  // A run of ties longer than a page: keep skipping the ones served before.
  if (previous?.t === t) k.unshift(...previous.k);
  return Buffer.from(JSON.stringify({ t, k })).toString('base64url');
}

export function decodeCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined;
  try {
    const c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Cursor;
    if (typeof c.t === 'number' && Number.isFinite(c.t) && Array.isArray(c.k) && c.k.length <= 1000 && c.k.every((k) => typeof k === 'string')) return c;
  } catch {
    // reported below
  }
  throw new AirlockError(ErrorCodes.usage, 'invalid cursor (pass back the `next` value of the previous page unchanged)', { expose: true });
}

/**
 * One page of a newest-first list: asks `fetch(until, n)` for enough items to skip the cursor's ties and
 * still fill `limit`, and returns the page with the cursor of the next one (null at the end).
 */
export async function pageOf<T>(
  cursor: Cursor | undefined,
  limit: number,
  fetch: (until: number | undefined, n: number) => Promise<T[]>,
  time: (item: T) => number,
  key: (item: T) => string,
): Promise<{ items: T[]; next: string | null }> {
  const skip = new Set(cursor?.k ?? []);
  const rows = await fetch(cursor?.t, limit + skip.size + 1);
  const fresh = rows.filter((r) => !(cursor && time(r) === cursor.t && skip.has(key(r))));
  const items = fresh.slice(0, limit);
  const more = fresh.length > limit;
  return { items, next: more && items.length ? encodeCursor(items, time, key, cursor) : null };
}
