/**
 * Helpers for encoders that size a message first and then fill one Buffer.allocUnsafe.
 * Typed message: Byte1 code, Int32 length (includes itself, not the code), body.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */
import { ProtocolError } from '../../../core/errors.ts';

/** Bytes needed for `s` as a C string (UTF-8 + NUL). Rejects embedded NULs, which would corrupt framing. */
export function cstrSize(s: string): number {
  if (s.includes('\0')) throw new ProtocolError('string contains NUL byte');
  return Buffer.byteLength(s, 'utf8') + 1;
}

/** Writes `s` + NUL at `off`; returns the offset after the terminator. */
export function putCString(buf: Buffer, off: number, s: string): number {
  const n = buf.write(s, off, 'utf8');
  buf[off + n] = 0;
  return off + n + 1;
}

/** Allocates a typed message with a `bodySize`-byte body and writes its 5-byte header. */
export function allocMessage(code: number, bodySize: number): Buffer {
  const buf = Buffer.allocUnsafe(5 + bodySize);
  buf[0] = code;
  buf.writeInt32BE(4 + bodySize, 1);
  return buf;
}

/** A header-only typed message (length 4). */
export function emptyMessage(code: number): Buffer {
  return allocMessage(code, 0);
}

/** Checks a list size fits the Int16 count field (PostgreSQL reads it as unsigned). */
export function checkCount(n: number, what: string): void {
  if (n > 0xffff) throw new ProtocolError(`too many ${what}: ${n}`);
}
