import type { Socket } from 'node:net';
import type { SessionRecorder } from '../../recording/recorder.ts';

interface Held {
  readonly bytes: Buffer;
  /** Recorder mark the bytes wait for (0: none of their own, they only keep their place in line). */
  readonly mark: number;
}

/**
 * The client side of a session's writes, holding acknowledgements until they are recorded (`recording.ack:
 * durable`). An acknowledgement is any message that tells the client a statement ended: CommandComplete,
 * EmptyQueryResponse, PortalSuspended, ErrorResponse, ReadyForQuery, and the gateway's own denial errors. The
 * write that carries one leaves only once every event the session recorded up to then is committed to the store;
 * later writes queue behind it, in order, and the target is not read meanwhile. So a statement the client saw end
 * is in the store even if the gateway is killed the next moment. Also honours the client's backpressure.
 */
export class AckGate {
  private held: Held[] = [];
  private acked = false;
  private full = false;
  private endAfter: Buffer | true | undefined;

  constructor(
    private readonly client: Socket,
    private readonly target: Socket,
    private readonly rec: SessionRecorder,
    private readonly durable: boolean,
    private readonly onWritten: (bytes: number) => void,
  ) {}

  /** The bytes about to be written carry an acknowledgement of everything recorded so far. */
  acknowledge(): void {
    if (this.durable) this.acked = true;
  }

  write(bytes: Buffer): void {
    let mark = 0;
    if (this.acked) {
      this.acked = false;
      mark = this.rec.mark;
    }
    if (this.held.length === 0 && (mark === 0 || this.rec.durable(mark) === undefined)) return this.send(bytes);
    this.held.push({ bytes, mark });
    if (this.held.length === 1) this.release();
  }

  /** Ends the client's side once everything held has gone out, `bytes` last. */
  end(bytes?: Buffer): void {
    if (this.held.length === 0) {
      if (bytes) this.client.end(bytes);
      else this.client.end();
      return;
    }
    this.endAfter ??= bytes ?? true;
  }

  /** Drops whatever is held (the client is gone, or the store cannot take its events). */
  drop(): void {
    this.held = [];
  }

  private release(): void {
    while (this.held.length) {
      if (this.client.destroyed || this.client.writableEnded) {
        this.held = [];
        return;
      }
      const wait = this.held[0].mark ? this.rec.durable(this.held[0].mark) : undefined;
      if (wait) {
        this.target.pause();
        void wait.then(() => this.release());
        return;
      }
      this.send(this.held.shift()!.bytes);
    }
    if (this.endAfter !== undefined) {
      const last = this.endAfter;
      this.endAfter = undefined;
      if (last === true) this.client.end();
      else this.client.end(last);
      return;
    }
    if (!this.full) this.target.resume();
  }

  private send(bytes: Buffer): void {
    this.onWritten(bytes.length);
    if (!this.client.write(bytes) && !this.full) {
      this.full = true;
      this.target.pause();
      this.client.once('drain', () => {
        this.full = false;
        if (this.held.length === 0) this.target.resume();
      });
    }
  }
}
