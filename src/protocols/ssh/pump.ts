import type { Readable, Writable } from 'node:stream';

/**
 * Moves data from `from` to `to` honouring backpressure: when `to.write()` says its buffer is full,
 * `from` is paused until `to` drains. With ssh2 channels a paused reader stops granting window to its
 * peer, so the sender stops too and memory stays bounded by the SSH windows on both sides. `room`, when it
 * returns a promise (the recording's backlog is full), holds `from` the same way until it resolves.
 */
export function pump(from: Readable, to: Writable, observe?: (chunk: Buffer) => void, room?: () => Promise<void> | undefined): void {
  let holds = 0;
  const hold = (until: Promise<void>) => {
    if (holds++ === 0) from.pause();
    void until.then(() => {
      if (--holds === 0) from.resume();
    });
  };
  from.on('data', (chunk: Buffer) => {
    observe?.(chunk);
    if (!to.write(chunk)) hold(new Promise((resolve) => to.once('drain', resolve)));
    const wait = room?.();
    if (wait) hold(wait);
  });
}

/** Resolves when everything written to `w` so far has been handed on (SSH window permitting). */
export function flushed(w: Writable, timeoutMs = 5_000): Promise<void> {
  if (!w.writable || w.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    w.write(Buffer.alloc(0), () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Backpressured writes for a relay that can also hold its reader (a command waiting for review): while
 * `to` is full, `from` is paused; on drain it resumes unless the relay still holds it.
 */
export class HoldableWriter {
  blocked = false;

  constructor(
    private readonly to: Writable,
    private readonly from: Readable,
    private readonly holding: () => boolean,
  ) {}

  write(bytes: Buffer): void {
    if (this.to.write(bytes) || this.blocked) return;
    this.blocked = true;
    this.from.pause();
    this.to.once('drain', () => {
      this.blocked = false;
      if (!this.holding()) this.from.resume();
    });
  }
}
