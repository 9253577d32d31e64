/**
 * Bounds-checked cursor over a message body. Every over-read throws ProtocolError('malformed <what>').
 * Integers are big-endian, strings are NUL-terminated UTF-8.
 * https://www.postgresql.org/docs/current/protocol-message-types.html
 */
import { ProtocolError } from '../../../core/errors.ts';

export class BufferReader {
  private readonly buf: Buffer;
  private readonly what: string;
  private off: number;

  /** `what` names the message in errors: 'malformed <what>'. */
  constructor(buf: Buffer, what: string, offset = 0) {
    this.buf = buf;
    this.what = what;
    this.off = offset;
  }

  get offset(): number {
    return this.off;
  }

  get remaining(): number {
    return this.buf.length - this.off;
  }

  /** A ProtocolError naming this message. */
  fail(): ProtocolError {
    return new ProtocolError(`malformed ${this.what}`);
  }

  private need(n: number): number {
    const at = this.off;
    if (n < 0 || at + n > this.buf.length) throw this.fail();
    this.off = at + n;
    return at;
  }

  uint8(): number {
    return this.buf[this.need(1)]!;
  }

  int8(): number {
    return this.buf.readInt8(this.need(1));
  }

  int16(): number {
    return this.buf.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.need(4));
  }

  /** NUL-terminated UTF-8 string; the terminator is consumed. */
  cstring(): string {
    const start = this.off;
    const end = this.buf.indexOf(0, start);
    if (end < 0) throw this.fail();
    this.off = end + 1;
    return this.buf.toString('utf8', start, end);
  }

  /** NUL-terminated string as its raw bytes (a subarray, terminator consumed), for text in the session's client_encoding. */
  cstringBytes(): Buffer {
    const start = this.off;
    const end = this.buf.indexOf(0, start);
    if (end < 0) throw this.fail();
    this.off = end + 1;
    return this.buf.subarray(start, end);
  }

  /** `n` bytes as a subarray (no copy). */
  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }

  /** Everything left, as a subarray. */
  rest(): Buffer {
    const at = this.off;
    this.off = this.buf.length;
    return this.buf.subarray(at);
  }

  /** Throws unless every byte has been consumed. */
  end(): void {
    if (this.off !== this.buf.length) throw this.fail();
  }
}
