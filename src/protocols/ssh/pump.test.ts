import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pump } from './pump.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('pump', () => {
  it('holds the reader while the recording has no room, and lets every byte through once it has', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    const seen: string[] = [];
    const out: string[] = [];
    to.on('data', (c: Buffer) => out.push(c.toString()));
    let release: (() => void) | undefined;
    let full = false;
    pump(from, to, (c) => seen.push(c.toString()), () => (full ? new Promise<void>((r) => (release = r)) : undefined));
    from.write('a');
    await tick();
    full = true;
    from.write('b'); // observed and relayed, then the reader is held
    from.write('c');
    from.write('d');
    await tick();
    expect(seen).toEqual(['a', 'b']);
    expect(from.isPaused()).toBe(true);
    full = false;
    release!();
    await tick();
    await tick();
    expect(seen.join('')).toBe('abcd');
    expect(out.join('')).toBe('abcd');
    expect(from.isPaused()).toBe(false);
  });

  it('resumes only when both the full writer has drained and the recording has room', async () => {
    const from = new PassThrough();
    const written: string[] = [];
    let drainLater: (() => void) | undefined;
    const to = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, cb) {
        written.push(chunk.toString());
        drainLater = cb;
      },
    });
    let release: (() => void) | undefined;
    pump(from, to, undefined, () => (release ? undefined : new Promise<void>((r) => (release = r))));
    from.write('x');
    from.write('y');
    await tick();
    expect(from.isPaused()).toBe(true);
    release!();
    await tick();
    await tick();
    expect(from.isPaused()).toBe(true); // the writer is still full
    expect(written).toEqual(['x']);
    drainLater!();
    await tick();
    await tick();
    expect(written).toEqual(['x', 'y']);
  });
});
