/** Shared helpers for the codec tests (not exported from index.ts). */
import { ProtocolError } from '../../../core/errors.ts';
import { FrameReader } from './frame-reader.ts';
import type { Frame } from './frame-reader.ts';

/** Every whole frame currently available. */
export function drain(reader: FrameReader): Frame[] {
  const out: Frame[] = [];
  for (let f = reader.next(); f !== undefined; f = reader.next()) out.push(f);
  return out;
}

/** The single frame in `message`, checking its code; returns its body. */
export function bodyOf(message: Buffer, code: number): Buffer {
  const reader = new FrameReader(1 << 30);
  reader.push(message);
  const frames = drain(reader);
  if (frames.length !== 1 || reader.buffered !== 0) throw new Error(`expected exactly one frame, got ${frames.length}`);
  if (frames[0]!.code !== code) throw new Error(`expected code ${code}, got ${frames[0]!.code}`);
  return frames[0]!.body;
}

/** Runs `fn`; any throw other than ProtocolError is rethrown (for property tests). */
export function onlyProtocolErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

export function int16(n: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeInt16BE(n);
  return b;
}

export function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n);
  return b;
}

export function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}
