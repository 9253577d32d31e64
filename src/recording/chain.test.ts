import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { GENESIS, canonical, canonicalSlow, eventHash } from './chain.ts';

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

describe('event hash', () => {
  it('hashes exactly SHA-256(prev ‖ canonical(event)) for any ids, types, numbers and data', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.stringMatching(/^ses_[0-9a-z]{26}$/)),
        fc.oneof(fc.string(), fc.constantFrom('db.query', 'db.result', 'ssh.output', 'session.end')),
        fc.oneof(fc.integer(), fc.double()),
        fc.oneof(fc.double(), fc.double({ min: 1.6e12, max: 2e12 })),
        fc.jsonValue(),
        (sessionId, type, seq, time, data) => {
          const reference = createHash('sha256').update(GENESIS + canonicalSlow({ data, seq, sessionId, time, type })).digest('hex');
          expect(eventHash(GENESIS, { sessionId, seq, time, type, data })).toBe(reference);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
