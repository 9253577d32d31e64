/**
 * Incremental splitter for typed messages: Byte1 code, Int32 length (includes itself, not the code), body.
 * https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 *
 * Frames lying inside one pushed chunk are subarrays of it (zero-copy). Only a frame spanning chunks is
 * copied, and only its own bytes; chunks that do not complete a frame are queued, never re-concatenated.
 */
import { ProtocolError } from '../../../core/errors.ts';

export interface Frame {
  readonly code: number;
  /** The whole frame including the 5-byte header. */
  readonly bytes: Buffer;
  /** Payload after the length. */
  readonly body: Buffer;
}

/** Code byte and length: a frame's body is its bytes after these. */
export const FRAME_HEADER = 5;
const HEADER = FRAME_HEADER;
const EMPTY = Buffer.alloc(0);

/** A frame as the reader hands it out: the body is a view made only when asked for (most DataRows never are). */
class ReadFrame implements Frame {
  constructor(
    readonly code: number,
    readonly bytes: Buffer,
  ) {}

  get body(): Buffer {
    return this.bytes.subarray(HEADER);
  }
}

export class FrameReader {
  private readonly max: number;
  /** Current chunk and read offset into it. */
  private head: Buffer = EMPTY;
  private off = 0;
  /** Chunks received after `head`: queue[qi..] are unconsumed, `queued` counts their bytes. */
  private queue: Buffer[] = [];
  private qi = 0;
  private queued = 0;

  constructor(maxFrameBytes: number) {
    this.max = maxFrameBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.off >= this.head.length && this.queued === 0) {
      this.head = chunk;
      this.off = 0;
    } else {
      this.queue.push(chunk);
      this.queued += chunk.length;
    }
  }

  get buffered(): number {
    return this.head.length - this.off + this.queued;
  }

  next(): Frame | undefined {
    const head = this.head;
    const off = this.off;
    const inHead = head.length - off;
    if (inHead >= HEADER) {
      const total = this.checkLength(head.readInt32BE(off + 1));
      if (inHead >= total) {
        const end = off + total;
        this.off = end;
        if (end === head.length && this.queued > 0) this.shift();
        return new ReadFrame(head[off]!, head.subarray(off, end));
      }
      if (inHead + this.queued < total) return undefined;
      return this.assemble(total);
    }
    if (inHead + this.queued < HEADER) return undefined;
    const len = (this.peek(1) << 24) | (this.peek(2) << 16) | (this.peek(3) << 8) | this.peek(4);
    const total = this.checkLength(len);
    if (inHead + this.queued < total) return undefined;
    return this.assemble(total);
  }

  /**
   * Consumes the whole frames of type `code` that come next and lie in the current chunk, making no objects for
   * them: a long run of DataRows that is only counted. Returns how many, and where they lie in `chunk`; stops at
   * anything else, including a length `next()` would refuse, which `next()` then reports.
   */
  skip(code: number): { count: number; chunk: Buffer; start: number; end: number } | undefined {
    const head = this.head;
    const start = this.off;
    let off = start;
    let count = 0;
    while (head.length - off >= HEADER && head[off] === code) {
      const len = head.readInt32BE(off + 1);
      if (len < 4 || len + 1 > this.max || off + len + 1 > head.length) break;
      off += len + 1;
      count++;
    }
    if (count === 0) return undefined;
    this.off = off;
    if (off === head.length && this.queued > 0) this.shift();
    return { count, chunk: head, start, end: off };
  }

  takeRemainder(): Buffer {
    const rest = this.head.subarray(this.off);
    const out = this.queued === 0 ? rest : Buffer.concat([rest, ...this.queue.slice(this.qi)]);
    this.head = EMPTY;
    this.off = 0;
    this.queue = [];
    this.qi = 0;
    this.queued = 0;
    return out;
  }

  /** Validates a length field; returns the frame size including the code byte. */
  private checkLength(len: number): number {
    if (len < 4) throw new ProtocolError('malformed frame length');
    if (len + 1 > this.max) throw new ProtocolError(`frame of ${len + 1} bytes exceeds limit`);
    return len + 1;
  }

  /** Byte `i` past the read offset, looking into queued chunks (caller ensures it exists). */
  private peek(i: number): number {
    const inHead = this.head.length - this.off;
    if (i < inHead) return this.head[this.off + i]!;
    i -= inHead;
    for (let q = this.qi; q < this.queue.length; q++) {
      const c = this.queue[q]!;
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    throw new ProtocolError('malformed frame length');
  }

  /** Makes the first queued chunk the head. */
  private shift(): void {
    const next = this.queue[this.qi]!;
    this.drop(1);
    this.queued -= next.length;
    this.head = next;
    this.off = 0;
  }

  /** Forgets the first `n` queued chunks; compacts the array when drained or mostly consumed. */
  private drop(n: number): void {
    this.qi += n;
    if (this.qi === this.queue.length) {
      this.queue.length = 0;
      this.qi = 0;
    } else if (this.qi > 1024 && this.qi * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qi);
      this.qi = 0;
    }
  }

  /** Copies a frame of `total` bytes that spans head and queued chunks (caller ensures they are all here). */
  private assemble(total: number): Frame {
    const out = Buffer.allocUnsafe(total);
    let filled = this.head.copy(out, 0, this.off);
    let used = 0;
    const queue = this.queue;
    const qi = this.qi;
    while (filled < total) {
      const c = queue[qi + used]!;
      const take = Math.min(c.length, total - filled);
      c.copy(out, filled, 0, take);
      filled += take;
      if (take === c.length) {
        used++;
        this.queued -= take;
      } else {
        // Remainder of a partly consumed chunk becomes the head: later frames in it stay zero-copy.
        this.head = c;
        this.off = take;
        this.queued -= c.length;
        this.drop(used + 1);
        return new ReadFrame(out[0]!, out);
      }
    }
    this.drop(used);
    this.head = EMPTY;
    this.off = 0;
    if (this.queued > 0) this.shift();
    return new ReadFrame(out[0]!, out);
  }
}
