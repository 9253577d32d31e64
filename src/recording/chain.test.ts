import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonical, canonicalSlow } from './chain.ts';

describe('canonical JSON', () => {
  it('the fast path gives exactly the reference form for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(canonical(v)).toBe(canonicalSlow(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('sorts keys at every depth, numerically named keys included', () => {
    expect(canonical({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null }, 10: 'x', 9: 'y' })).toBe('{"10":"x","9":"y","a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}');
    expect(canonical({ a: 1, b: undefined, c: [undefined] })).toBe('{"a":1,"c":[null]}');
    expect(canonical({ mode: 'simple', text: 'select 1' })).toBe('{"mode":"simple","text":"select 1"}');
  });
});
