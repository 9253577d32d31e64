/**
 * Joins byte ranges that lie next to each other in memory into one write. The relay adds each frame it passes on
 * unchanged; frames that came in together in one chunk are contiguous there, so they leave as a single slice of
 * that chunk (zero copy, one write). Anything else (a gateway-made or rewritten frame, a frame reassembled from
 * several chunks) ends the pending range and starts its own.
 */
export class JoinedWrites {
  private memory: ArrayBufferLike | undefined;
  private start = 0;
  private end = 0;

  constructor(private readonly write: (bytes: Buffer) => void) {}

  add(bytes: Buffer): void {
    if (bytes.buffer === this.memory && bytes.byteOffset === this.end) {
      this.end += bytes.length;
      return;
    }
    this.flush();
    this.memory = bytes.buffer;
    this.start = bytes.byteOffset;
    this.end = bytes.byteOffset + bytes.length;
  }

  /** Writes the pending range, if any. */
  flush(): void {
    const memory = this.memory;
    if (memory === undefined) return;
    this.memory = undefined;
    this.write(Buffer.from(memory, this.start, this.end - this.start));
  }
}
