import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ProtocolError } from '../../../core/errors.ts';
import { FrameReader } from './frame-reader.ts';
import { encodeBind, encodeCopyData, encodeParse, encodeQuery, encodeSync, encodeTerminate } from './frontend.ts';
import { encodeDataRow } from './backend.ts';
import { drain } from './test-util.ts';

const messages = [
  encodeQuery('select 1'),
  encodeParse('s1', 'select $1::int, $2::text', [23, 25]),
  encodeBind('', 's1', ['42', null, Buffer.from([1, 2, 3])]),
  encodeSync(),
  encodeDataRow(['x'.repeat(300), null, Buffer.alloc(0)]),
  encodeCopyData(Buffer.alloc(0)),
  encodeTerminate(),
];
const stream = Buffer.concat(messages);

function expectFrames(got: { code: number; bytes: Buffer; body: Buffer }[]): void {
  expect(got.length).toBe(messages.length);
  got.forEach((f, i) => {
    const m = messages[i]!;
    expect(f.code).toBe(m[0]);
    expect(f.bytes.equals(m)).toBe(true);
    expect(f.body.equals(m.subarray(5))).toBe(true);
  });
}

describe('FrameReader', () => {
  it('yields the same frames for a split at every byte boundary', () => {
    for (let i = 0; i <= stream.length; i++) {
      const r = new FrameReader(1 << 20);
      r.push(Buffer.from(stream.subarray(0, i)));
      const got = drain(r);
      r.push(Buffer.from(stream.subarray(i)));
      got.push(...drain(r));
      expectFrames(got);
      expect(r.buffered).toBe(0);
    }
  });

  it('yields the same frames when fed one byte at a time', () => {
    const r = new FrameReader(1 << 20);
    const got = [];
    for (let i = 0; i < stream.length; i++) {
      r.push(Buffer.from([stream[i]!]));
      got.push(...drain(r));
    }
    expectFrames(got);
  });

  it('yields the same frames for bytes pushed all before reading, one byte per chunk', () => {
    const r = new FrameReader(1 << 20);
    for (let i = 0; i < stream.length; i++) r.push(Buffer.from([stream[i]!]));
    expect(r.buffered).toBe(stream.length);
    expectFrames(drain(r));
  });

  it('yields the same frames for arbitrary chunkings', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const r = new FrameReader(1 << 20);
        const got = [];
        for (let i = 1; i < points.length; i++) {
          r.push(Buffer.from(stream.subarray(points[i - 1], points[i])));
          got.push(...drain(r));
        }
        expectFrames(got);
      }),
    );
  });

  it('returns zero-copy subarrays for frames inside one chunk', () => {
    const chunk = Buffer.from(stream);
    const r = new FrameReader(1 << 20);
    r.push(chunk);
    const frames = drain(r);
    let at = 0;
    for (const f of frames) {
      expect(f.bytes.buffer).toBe(chunk.buffer);
      expect(f.bytes.byteOffset).toBe(chunk.byteOffset + at);
      expect(f.body.byteOffset).toBe(chunk.byteOffset + at + 5);
      at += f.bytes.length;
    }
    chunk[5] = 0x41; // first byte of the Query text
    expect(frames[0]!.body[0]).toBe(0x41);
  });

  it('copies only a spanning frame and stays zero-copy for the rest of the chunk', () => {
    const cut = messages[0]!.length + 3;
    const first = Buffer.from(stream.subarray(0, cut));
    const second = Buffer.from(stream.subarray(cut));
    const r = new FrameReader(1 << 20);
    r.push(first);
    expect(drain(r).length).toBe(1);
    r.push(second);
    const frames = drain(r);
    expect(frames.length).toBe(messages.length - 1);
    expect(frames[0]!.bytes.equals(messages[1]!)).toBe(true);
    let at = messages[1]!.length - 3;
    for (const f of frames.slice(1)) {
      expect(f.bytes.buffer).toBe(second.buffer);
      expect(f.bytes.byteOffset).toBe(second.byteOffset + at);
      at += f.bytes.length;
    }
  });

  it('reassembles a large frame from many small chunks', () => {
    const big = encodeCopyData(Buffer.alloc(1 << 20, 7));
    const r = new FrameReader(2 << 20);
    for (let i = 0; i < big.length; i += 1000) {
      r.push(big.subarray(i, i + 1000));
      if (i + 1000 < big.length) expect(r.next()).toBeUndefined();
    }
    const f = r.next();
    expect(f?.bytes.equals(big)).toBe(true);
    expect(r.next()).toBeUndefined();
  });

  it('rejects an oversized length as soon as the header arrives, before the body', () => {
    const r = new FrameReader(1000);
    const header = Buffer.from([0x51, 0, 0, 0x03, 0xe8]); // length 1000 → 1001-byte frame
    r.push(header);
    expect(() => r.next()).toThrow(ProtocolError);
    expect(() => r.next()).toThrow('frame of 1001 bytes exceeds limit');
    const ok = new FrameReader(1001);
    ok.push(header);
    expect(ok.next()).toBeUndefined();
  });

  it('rejects an oversized length whose header spans chunks', () => {
    const r = new FrameReader(100);
    r.push(Buffer.from([0x51, 0x7f]));
    expect(r.next()).toBeUndefined();
    r.push(Buffer.from([0xff, 0xff]));
    expect(r.next()).toBeUndefined();
    r.push(Buffer.from([0xff]));
    expect(() => r.next()).toThrow(/exceeds limit/);
  });

  it('rejects lengths below 4, including negative ones', () => {
    for (const len of [0, 3, -1, -2147483648]) {
      const head = Buffer.alloc(5);
      head[0] = 0x51;
      head.writeInt32BE(len, 1);
      const whole = new FrameReader(1 << 20);
      whole.push(head);
      expect(() => whole.next()).toThrow('malformed frame length');
      const split = new FrameReader(1 << 20);
      split.push(head.subarray(0, 3));
      split.push(head.subarray(3));
      expect(() => split.next()).toThrow(ProtocolError);
    }
  });

  it('accepts a header-only frame (length 4)', () => {
    const r = new FrameReader(5);
    r.push(encodeSync());
    const f = r.next();
    expect(f?.code).toBe(0x53);
    expect(f?.body.length).toBe(0);
  });

  it('reports buffered bytes and hands back the remainder', () => {
    const partial = messages[1]!.subarray(0, 7);
    const r = new FrameReader(1 << 20);
    r.push(Buffer.concat([messages[0]!, partial.subarray(0, 2)]));
    r.push(partial.subarray(2, 4));
    r.push(partial.subarray(4));
    expect(r.buffered).toBe(messages[0]!.length + 7);
    expect(r.next()?.bytes.equals(messages[0]!)).toBe(true);
    expect(r.next()).toBeUndefined();
    expect(r.buffered).toBe(7);
    expect(r.takeRemainder().equals(partial)).toBe(true);
    expect(r.buffered).toBe(0);
    expect(r.takeRemainder().length).toBe(0);
    expect(r.next()).toBeUndefined();
    r.push(messages[3]!);
    expect(r.next()?.bytes.equals(messages[3]!)).toBe(true);
  });

  it('hands back a zero-copy remainder when it lies in one chunk', () => {
    const chunk = Buffer.concat([messages[0]!, Buffer.from('\x16\x03\x01')]);
    const r = new FrameReader(1 << 20);
    r.push(chunk);
    r.next();
    const rest = r.takeRemainder();
    expect(rest.toString('latin1')).toBe('\x16\x03\x01');
    expect(rest.buffer).toBe(chunk.buffer);
  });

  it('ignores empty chunks', () => {
    const r = new FrameReader(1 << 20);
    r.push(Buffer.alloc(0));
    r.push(messages[0]!.subarray(0, 2));
    r.push(Buffer.alloc(0));
    r.push(messages[0]!.subarray(2));
    expect(r.next()?.bytes.equals(messages[0]!)).toBe(true);
  });

  describe('skip', () => {
    const row = (n: number) => encodeDataRow([String(n).repeat(n % 7)]);
    const rows = Array.from({ length: 20 }, (_, i) => row(i));
    // Rows, then a CommandComplete-like frame, then more rows: a skip stops at the other frame.
    const other = encodeQuery('C');
    const wire = Buffer.concat([...rows.slice(0, 12), other, ...rows.slice(12)]);

    /** Reads everything, skipping DataRows wherever skip() finds some; returns what was counted and read. */
    function readAll(r: FrameReader, chunks: Buffer[]) {
      let skipped = 0;
      const bytes: Buffer[] = [];
      const codes: number[] = [];
      for (const c of chunks) {
        r.push(c);
        for (;;) {
          const s = r.skip(0x44);
          if (s) {
            skipped += s.count;
            bytes.push(s.chunk.subarray(s.start, s.end));
          }
          const f = r.next();
          if (!f) break;
          codes.push(f.code);
          bytes.push(f.bytes);
        }
      }
      return { skipped, codes, bytes: Buffer.concat(bytes) };
    }

    it('passes over whole rows in the chunk and leaves everything else to next(), at every split', () => {
      for (let i = 0; i <= wire.length; i++) {
        const got = readAll(new FrameReader(1 << 20), [Buffer.from(wire.subarray(0, i)), Buffer.from(wire.subarray(i))]);
        // Every byte comes out once and in order; only rows split across the two chunks were read by next().
        expect(got.bytes.equals(wire)).toBe(true);
        expect(got.codes.filter((c) => c !== 0x44)).toEqual([other[0]]);
        expect(got.skipped + got.codes.filter((c) => c === 0x44).length).toBe(rows.length);
        expect(got.codes.filter((c) => c === 0x44).length).toBeLessThanOrEqual(1);
      }
    });

    it('makes no copy: the skipped rows are a range of the pushed chunk', () => {
      const r = new FrameReader(1 << 20);
      const chunk = Buffer.concat(rows);
      r.push(chunk);
      expect(r.skip(0x44)).toEqual({ count: rows.length, chunk, start: 0, end: chunk.length });
      expect(r.skip(0x44)).toBeUndefined();
      expect(r.next()).toBeUndefined();
      expect(r.buffered).toBe(0);
    });

    it('stops at a length next() refuses, which next() then reports', () => {
      const bad = Buffer.from([0x44, 0, 0, 0, 2]);
      const r = new FrameReader(1 << 20);
      r.push(Buffer.concat([rows[3]!, bad]));
      expect(r.skip(0x44)?.count).toBe(1);
      expect(() => r.next()).toThrow(ProtocolError);
      const small = new FrameReader(16);
      small.push(Buffer.concat([row(1), row(6)])); // 12 and 17 bytes
      expect(small.skip(0x44)?.count).toBe(1);
      expect(() => small.next()).toThrow(/exceeds limit/);
    });
  });

  it('throws nothing but ProtocolError on random input and chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
        fc.integer({ min: 0, max: 200 }),
        (chunks, max) => {
          const r = new FrameReader(max);
          try {
            for (const c of chunks) {
              r.push(Buffer.from(c));
              for (let f = r.next(); f !== undefined; f = r.next()) {
                expect(f.bytes.length).toBe(f.bytes.readInt32BE(1) + 1);
                expect(f.bytes.length).toBeLessThanOrEqual(max);
              }
            }
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
          }
        },
      ),
    );
  });
});
