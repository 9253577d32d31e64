import { describe, expect, it } from 'vitest';
import { AirlockError } from '../core/errors.ts';
import { decodeCursor, pageOf } from './cursor.ts';

interface Item {
  readonly id: string;
  readonly t: number;
}

/** A newest-first store listing with an inclusive `until`, returning ties in an arbitrary (reversed) order. */
function listing(items: Item[]) {
  return async (until: number | undefined, n: number) =>
    items
      .filter((i) => until === undefined || i.t <= until)
      .sort((a, b) => b.t - a.t || (a.id < b.id ? 1 : -1))
      .slice(0, n);
}

async function walk(items: Item[], limit: number): Promise<string[]> {
  const seen: string[] = [];
  let next: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page: { items: Item[]; next: string | null } = await pageOf(decodeCursor(next ?? undefined), limit, listing(items), (i) => i.t, (i) => i.id);
    seen.push(...page.items.map((i) => i.id));
    next = page.next;
    if (!next) return seen;
  }
  throw new Error('no end');
}

describe('keyset cursor', () => {
  it('serves every item once across pages, also when runs of equal times are longer than a page', async () => {
    const items: Item[] = [];
    for (let i = 0; i < 40; i++) items.push({ id: `i${String(i).padStart(2, '0')}`, t: Math.floor(i / 7) });
    for (const limit of [1, 2, 3, 5, 7, 8, 40, 50]) {
      const seen = await walk(items, limit);
      expect(seen.length, `limit ${limit}`).toBe(40);
      expect(new Set(seen).size, `limit ${limit}`).toBe(40);
    }
  });

  it('ends with next = null exactly when nothing is left', async () => {
    const items = [{ id: 'a', t: 3 }, { id: 'b', t: 2 }];
    expect((await pageOf(undefined, 2, listing(items), (i) => i.t, (i) => i.id)).next).toBeNull();
    expect((await pageOf(undefined, 1, listing(items), (i) => i.t, (i) => i.id)).next).not.toBeNull();
  });

  it('refuses a cursor it did not make', () => {
    for (const bad of ['', '%%%', Buffer.from('{"t":"x","k":[]}').toString('base64url'), Buffer.from('{"t":1,"k":[1]}').toString('base64url')]) {
      expect(() => decodeCursor(bad), bad).toThrow(AirlockError);
    }
  });
});
