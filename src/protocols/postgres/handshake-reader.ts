import type { Socket } from 'node:net';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';

interface PullReader<T> {
  push(chunk: Buffer): void;
  next(): T | undefined;
  takeRemainder(): Buffer;
}

/**
 * Promise-style reads over a socket for the short handshake phases (startup, authentication). Once the
 * session is established the engine detaches it and switches to event-driven relaying.
 */
export class HandshakeReader<T> {
  private waiter: { resolve: (v: T) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => this.feed(chunk);
  private readonly onEnd = () => this.fail(new AirlockError(ErrorCodes.protocol, `${this.peer} closed the connection during the handshake`));
  private readonly onError = (err: Error) => this.fail(err);
  private readonly onAbort = () => this.fail(this.signal?.reason as Error);

  /** `signal`: a deadline for the whole phase (the pre-auth one); its reason is what next() rejects with. */
  constructor(
    private readonly socket: Socket,
    private readonly reader: PullReader<T>,
    private readonly peer: string,
    private readonly signal?: AbortSignal,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
    if (signal?.aborted) this.onAbort();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  next(timeoutMs = 30_000): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    let item: T | undefined;
    try {
      item = this.reader.next();
    } catch (err) {
      return Promise.reject(err);
    }
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new AirlockError(ErrorCodes.protocol, `${this.peer} handshake timed out`, { expose: true })), timeoutMs);
      this.waiter = {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.resume();
    });
  }

  private feed(chunk: Buffer): void {
    // After a failure nothing more is kept: a client refused for an oversized message may still be sending it.
    if (this.failure) return;
    this.reader.push(chunk);
    const w = this.waiter;
    if (!w) return;
    let item: T | undefined;
    try {
      item = this.reader.next();
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (item !== undefined) {
      this.waiter = undefined;
      w.resolve(item);
    }
  }

  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.failure);
  }

  /** Stops listening; returns bytes received past the last returned item. */
  detach(): Buffer {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.socket.pause();
    return this.reader.takeRemainder();
  }
}
