import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS } from '../detectors/index.ts';
import { detectorSet, maskString } from '../engine.ts';
import { LABELLED_SAMPLES } from '../fixtures/labelled.ts';
import { compileMasker, type MaskCounts } from '../index.ts';
import { makeFormatter } from '../strategy.ts';
import { found } from './helpers.ts';

// Pieces of real PII, near misses and noise, glued together with or without separators, so that
// generated texts put detections next to each other and next to digits, words and punctuation.
const pieces = [
  ...new Set(LABELLED_SAMPLES.flatMap((s) => [s.text.slice(0, 120), ...s.spans.map((x) => s.text.slice(x.start, x.end))])),
];
const fragment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...pieces) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[0-9 .:+()@=_-]{1,16}$/) },
  { weight: 1, arbitrary: fc.constantFrom('password', 'token', 'secret', 'api_key', 'eyJ', 'AKIA', 'ghp_', 'xoxb-', '::', '-----BEGIN ', 'Bearer ', '://') },
);
const separator = fc.constantFrom('', ' ', '\n', ', ', '=', ':', '"', "'", '\t', '|', '-', '.', '/', '@');
const text = fc.array(fc.tuple(fragment, separator), { maxLength: 10 }).map((parts) => parts.map(([f, s]) => f + s).join(''));

const STRATEGIES = [
  compileMasker({ kinds: ['all'] }),
  compileMasker({ kinds: ['all'], strategy: 'partial' }),
  compileMasker({ kinds: ['all'], strategy: 'hash', sessionKey: Buffer.from('prop-key') }),
];

describe('properties', () => {
  it('maskText and maskValue never throw, on any string', () => {
    const m = STRATEGIES[0];
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ unit: 'binary', maxLength: 200 })), fc.string({ maxLength: 20 }), (t, column) => {
        expect(typeof m.maskText(t)).toBe('string');
        expect(typeof m.maskValue(column, t)).toBe('string');
      }),
      { numRuns: 2000 },
    );
  });

  it('masking masked output finds nothing new (every strategy)', () => {
    fc.assert(
      fc.property(text, fc.constantFrom(0, 1, 2), (t, which) => {
        const m = STRATEGIES[which];
        const once = m.maskText(t);
        const counts: MaskCounts = {};
        const twice = m.maskText(once, counts);
        expect(twice).toBe(once);
        expect(counts).toEqual({});
      }),
      { numRuns: 3000 },
    );
  });

  it('the pre-filter never hides a match: same output as running every detector', () => {
    const set = detectorSet(BUILTIN_DETECTORS);
    const format = makeFormatter('redact', undefined);
    const m = STRATEGIES[0];
    fc.assert(
      fc.property(text, (t) => {
        expect(m.maskText(t)).toBe(maskString(t, set, format, undefined, false));
      }),
      { numRuns: 3000 },
    );
  });

  it('masked output keeps no detected value verbatim', () => {
    const m = STRATEGIES[0];
    for (const { text: t } of LABELLED_SAMPLES) {
      const out = m.maskText(t);
      for (const f of found(t)) {
        const value = f.slice(f.indexOf(':') + 1);
        if (value.length >= 4) expect(out).not.toContain(value);
      }
    }
  });
});
