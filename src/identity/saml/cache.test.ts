import { describe, expect, it } from 'vitest';
import { RequestIdCache } from './cache.ts';

describe('RequestIdCache', () => {
  it('answers until the TTL, then forgets; remove is one-shot', async () => {
    let now = 1_000;
    const cache = new RequestIdCache(10_000, 100, () => now);
    await cache.saveAsync('_a', 'x');
    expect(await cache.getAsync('_a')).toBe('x');
    now += 9_999;
    expect(await cache.getAsync('_a')).toBe('x');
    now += 1;
    expect(await cache.getAsync('_a')).toBeNull();
    await cache.saveAsync('_b', 'y');
    expect(await cache.removeAsync('_b')).toBe('y');
    expect(await cache.getAsync('_b')).toBeNull();
    expect(await cache.removeAsync(null)).toBeNull();
  });

  it('is bounded: the oldest pending request goes first', async () => {
    const cache = new RequestIdCache(60_000, 3);
    for (const k of ['_1', '_2', '_3', '_4']) await cache.saveAsync(k, k);
    expect(cache.size).toBe(3);
    expect(await cache.getAsync('_1')).toBeNull();
    expect(await cache.getAsync('_4')).toBe('_4');
  });
});
