import { describe, expect, it } from 'vitest';
import { binaryValueText } from './binary-values.ts';

const int8 = (n: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};

describe('binaryValueText', () => {
  it.each([
    [Buffer.from([1]), 16, 't'],
    [Buffer.from([0, 42]), 21, '42'],
    [Buffer.from([0xff, 0xff, 0xff, 0xfe]), 23, '-2'],
    [int8(4111111111111111n), 20, '4111111111111111'],
    [Buffer.from('3ff8000000000000', 'hex'), 701, '1.5'],
    [Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), 2950, '01234567-89ab-cdef-0123-456789abcdef'],
    [Buffer.from('ann@example.org'), 25, 'ann@example.org'],
    [Buffer.concat([Buffer.from([1]), Buffer.from('{"e": "ann@example.org"}')]), 3802, '{"e": "ann@example.org"}'],
    [Buffer.from('ann@example.org'), 17, 'ann@example.org'], // bytea that is text: the masker sees it
    [Buffer.from('ann@example.org'), undefined, 'ann@example.org'], // a parameter: no type known
  ])('%s (type %s) → %s', (v, oid, text) => expect(binaryValueText(v, oid)).toBe(text));

  it.each([
    [Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25]), 1009], // an array header
    [Buffer.from([0xff, 0xfe, 0x41]), 17], // not UTF-8
    [Buffer.from([0, 42]), 23], // the wrong size for its type
  ])('keeps only the size of %s (type %s)', (v, oid) => expect(binaryValueText(v, oid)).toBe(`<binary ${v.length} bytes>`));
});
