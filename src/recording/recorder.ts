import { performance } from 'node:perf_hooks';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Identity } from '../core/identity.ts';
import type { Logger } from '../core/logger.ts';
import type { LedgerEntry, SessionRecord, StoredEvent, Store } from '../store/types.ts';
import { isPermanentStoreError } from '../store/errors.ts';
import { CHAIN_VERSION, GENESIS, canonical, eventHash, eventHashOfCanonicalData, ledgerHash, sealMessage } from './chain.ts';
import type { KeyRing } from './keys.ts';
import { openingProblem } from './chain-check.ts';
import { openingMessage } from './signatures.ts';

export interface SessionInfo {
  readonly protocol: string;
  readonly connection: string;
  readonly identity: Identity;
  readonly clientAddress: string;
  readonly application?: string | null;
}

export interface RecordOptions {
  /** Masked text to index for full-text search. */
  readonly searchText?: string;
  /** allowed | denied | reviewed | error. */
  readonly outcome?: string;
}

/** Told of each batch once it is in the store, with the write's duration (metrics, live tail). Must not throw. */
export type WrittenObserver = (batch: readonly StoredEvent[], writeMs: number) => void;

export interface RecorderOptions {
  /** How long the first event after a quiet spell waits for company before it is written. */
  readonly flushIntervalMs?: number;
  /**
   * Least time between the starts of two writes while events keep coming (unless `maxBatch` are queued,
   * someone flushes, or the last write itself took half of it). Each commit has a fixed cost in both threads
   * (message, transaction, WAL pages of every session touched), so under load fewer, larger batches take much
   * less CPU per event; once writes are that long, each batch is large already and waiting would only idle the
   * writer.
   */
  readonly writeSpacingMs?: number;
  readonly maxBatch?: number;
  /**
   * Most payload (characters of event JSON) waiting for the store, queued or being written. Past it the
   * recorder is unhealthy, so adapters refuse new commands until the store catches up: memory stays bounded
   * when the store is slower than the traffic, and nothing is dropped.
   */
  readonly maxBacklogChars?: number;
  /** The gateway instance sessions are recorded by (their owner in the store, see server/instance-lease.ts). */
  readonly instanceId?: string;
}

interface InFlight {
  readonly events: StoredEvent[];
  readonly chars: number;
  /** Ordinals (see Recorder.enqueued) of its first event and one past its last. */
  readonly start: number;
  readonly end: number;
  done: Promise<void>;
}

/** Wall-clock milliseconds with microsecond resolution. */
export function preciseNow(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

/**
 * The only writer of recordings. Events are hashed inline (cheap) and written in batches off the hot
 * path (group commit). When the store fails, batches stay queued and are retried, `healthy` turns
 * false, and adapters refuse new commands until it recovers (fail closed): nothing is dropped silently.
 */
export class Recorder {
  private queue: StoredEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Batches handed to the store and not settled yet, oldest first. */
  private inflight: InFlight[] = [];
  /** Batches that failed while others were still in flight, waiting to be queued again. */
  private failed: InFlight[] = [];
  /**
   * Every event gets an ordinal in the order it is queued; batches are taken from the front of the queue and the
   * store commits them in that order (a failed batch fails those handed over after it, event-writer-thread.ts), so
   * "every event before ordinal N is in the store" is one number: `committed`.
   */
  private enqueued = 0;
  /** Ordinal of queue[0]. */
  private queueStart = 0;
  private committed = 0;
  /** Sessions waiting to send an acknowledgement until their events are committed (durable()). */
  private durableWaiters: { readonly upTo: number; readonly resolve: () => void }[] = [];
  private readonly maxInflight: number;
  private readonly maxBacklogChars: number;
  /** Characters of event JSON queued or in flight. */
  private backlogChars = 0;
  private failures = 0;
  private lastError: Error | undefined;
  private readonly flushIntervalMs: number;
  private readonly writeSpacingMs: number;
  private readonly maxBatch: number;
  private lastWriteAt = -Infinity;
  private lastWriteMs = 0;
  /** Unset costs nothing per event: it is looked at once per batch. */
  onWritten: WrittenObserver | undefined;
  /** Streams held by room(), let go once the backlog is down to half its limit. */
  private roomWaiters: (() => void)[] = [];
  private readonly instanceId: string | undefined;
  /** A write failure no retry can heal: nothing is written any more (see onFatal). */
  private fatal: Error | undefined;
  /** Told once when the store fails for good; the gateway then stops instead of refusing everything forever. */
  onFatal: ((err: Error) => void) | undefined;

  constructor(
    readonly store: Store,
    private readonly keys: KeyRing,
    private readonly log: Logger,
    options: RecorderOptions = {},
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 5;
    this.writeSpacingMs = options.writeSpacingMs ?? 50;
    this.maxBatch = options.maxBatch ?? 5000;
    this.maxInflight = store.pipelinedWrites ? 2 : 1;
    this.maxBacklogChars = options.maxBacklogChars ?? 256 * 1024 * 1024;
    this.instanceId = options.instanceId;
  }

  /** See KeyRing.resultDigestKey. */
  resultDigestKey(sessionId: string): { key: Buffer; id: string } {
    return this.keys.resultDigestKey(sessionId);
  }

  /** False while the store refuses writes; adapters must not start new commands then. */
  get healthy(): boolean {
    return this.failures === 0 && !this.fatal && this.backlogChars < this.maxBacklogChars;
  }

  get unhealthyReason(): string | undefined {
    if (this.lastError) return this.lastError.message;
    if (this.backlogChars >= this.maxBacklogChars) return `the store is behind: ${this.queue.length} events wait to be written`;
    return undefined;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Characters of event JSON queued or being written. */
  get backlog(): number {
    return this.backlogChars;
  }

  /**
   * Undefined while the backlog is under its limit; past it, a promise that resolves once the backlog is down to
   * half of it. A stream that is recorded whole (a terminal's output) waits on it before reading on, so while the
   * store cannot keep up (or cannot write at all: a full disk) the stream is held instead of the backlog growing
   * without bound.
   */
  room(): Promise<void> | undefined {
    if (this.backlogChars < this.maxBacklogChars) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  async open(info: SessionInfo): Promise<SessionRecorder> {
    if (!this.healthy) throw new AirlockError(ErrorCodes.store, 'recording store unavailable; new sessions are refused', { expose: true });
    const record: SessionRecord = {
      id: newId('ses_'),
      protocol: info.protocol,
      connection: info.connection,
      subject: info.identity.subject,
      groups: info.identity.groups,
      kind: info.identity.kind,
      authMethod: info.identity.authMethod,
      credentialId: info.identity.credentialId ?? null,
      clientAddress: info.clientAddress,
      application: info.application ?? null,
      startedAt: preciseNow(),
      endedAt: null,
      endReason: null,
      bytesIn: 0,
      bytesOut: 0,
      eventCount: 0,
      lastHash: null,
      legalHold: false,
    };
    try {
      await this.store.insertSession(record, this.instanceId);
    } catch (err) {
      throw new AirlockError(ErrorCodes.store, 'recording store unavailable; new sessions are refused', { cause: err, expose: true });
    }
    const session = new SessionRecorder(this, record);
    const start = {
      chain: CHAIN_VERSION,
      protocol: record.protocol,
      connection: record.connection,
      subject: record.subject,
      groups: record.groups,
      kind: record.kind,
      authMethod: record.authMethod,
      credentialId: record.credentialId,
      clientAddress: record.clientAddress,
      application: record.application,
      startedAt: record.startedAt,
    };
    const opening = { keyId: this.keys.current.keyId, signature: this.keys.sign(openingMessage(record.id, canonical(start))) };
    session.record('session.start', { ...start, opening });
    return session;
  }

  /** @internal queued by SessionRecorder; returns the ordinal one past the event (never committed once the store failed for good). */
  enqueue(event: StoredEvent): number {
    if (this.fatal) return ++this.enqueued;
    this.queue.push(event);
    this.backlogChars += event.dataJson?.length ?? 0;
    if (this.inflight.length === 0) {
      if (this.queue.length >= this.maxBatch) this.kick();
      else if (!this.timer) this.schedule();
    } else if (this.queue.length >= this.maxBatch && this.inflight.length < this.maxInflight && this.failures === 0) {
      // The store takes a second batch while it writes the first: it then starts on it the moment the first commits.
      this.writeBatch().catch(() => {});
    }
    return ++this.enqueued;
  }

  /**
   * Undefined once every event queued before ordinal `upTo` is committed; else a promise that resolves then. The
   * write starts at once rather than after the flush interval: someone is waiting for it. Waiters that come while
   * a batch is being written share the next batch (group commit). While the store fails it does not resolve:
   * what waits on it (an acknowledgement to a client) waits until the store takes the events.
   */
  durable(upTo: number): Promise<void> | undefined {
    if (this.committed >= upTo) return undefined;
    const done = new Promise<void>((resolve) => this.durableWaiters.push({ upTo, resolve }));
    this.hurry();
    return done;
  }

  /**
   * Writes what is queued now unless a batch is being written (durable() waiters are waiting for it). While one
   * is, what is queued meanwhile waits for it and goes as the next batch the moment it commits: with many
   * sessions waiting, each commit carries all of them (a second batch in flight would carry only a few).
   */
  private hurry(): void {
    if (this.queue.length === 0 || this.failures > 0 || this.fatal || this.inflight.length > 0) return;
    this.kick();
  }

  private settleDurable(): void {
    if (this.durableWaiters.length === 0) return;
    const waiting: typeof this.durableWaiters = [];
    for (const w of this.durableWaiters) {
      if (w.upTo <= this.committed) w.resolve();
      else waiting.push(w);
    }
    this.durableWaiters = waiting;
  }

  /** Starts the next write after the flush interval, and no sooner than the spacing after the last one began. */
  private schedule(): void {
    const delay = Math.max(this.flushIntervalMs, this.lastWriteAt + this.writeSpacingMs - performance.now());
    this.timer = setTimeout(() => this.kick(), delay);
  }

  /** Starts a background write when none is under way; failures are logged, retried and shown in `healthy`. */
  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.inflight.length === 0 && this.queue.length && !this.fatal) this.writeBatch().catch(() => {});
  }

  /**
   * Hands what is queued now (up to a cap) to the store as one batch. While it is in the store, new events
   * queue up and are written as the next batch as soon as this one commits (group commit); a store that takes
   * batches in order (`pipelinedWrites`) gets that next one while it still writes, so it never waits for us.
   */
  private writeBatch(): Promise<void> {
    const cap = this.maxBatch * 4;
    const events = this.queue.length > cap ? this.queue.splice(0, cap) : this.queue;
    if (events === this.queue) this.queue = [];
    const started = performance.now();
    this.lastWriteAt = started;
    let chars = 0;
    for (const e of events) chars += e.dataJson?.length ?? 0;
    const start = this.queueStart;
    this.queueStart += events.length;
    const batch: InFlight = { events, chars, start, end: this.queueStart, done: Promise.resolve() };
    this.inflight.push(batch);
    batch.done = this.store.appendEvents(events).then(
      () => this.written(batch, started),
      (err: Error) => {
        this.notWritten(batch, err);
        throw err;
      },
    );
    return batch.done;
  }

  private written(batch: InFlight, started: number): void {
    this.inflight.splice(this.inflight.indexOf(batch), 1);
    this.backlogChars -= batch.chars;
    if (this.roomWaiters.length && this.backlogChars <= this.maxBacklogChars / 2) {
      for (const resolve of this.roomWaiters.splice(0)) resolve();
    }
    this.lastWriteMs = performance.now() - started;
    if (batch.start <= this.committed) this.committed = Math.max(this.committed, batch.end);
    this.settleDurable();
    this.onWritten?.(batch.events, this.lastWriteMs);
    if (this.failed.length > 0) {
      // Written after an earlier batch failed (a store that does not keep batches in order): retry that one.
      if (this.inflight.length === 0) this.requeueFailed();
      return;
    }
    if (this.failures > 0) {
      this.log.info({ events: batch.events.length }, 'recording store recovered');
      this.failures = 0;
      this.lastError = undefined;
    }
    if (this.durableWaiters.length > 0) return this.hurry();
    if (this.inflight.length > 0 || this.queue.length === 0) return;
    // A write that long means the store is the bottleneck: the next batch is large already, go at once.
    if (this.queue.length >= this.maxBatch || this.lastWriteMs >= this.writeSpacingMs / 2) this.kick();
    else if (!this.timer) this.schedule();
  }

  /** Once every batch in flight has settled, those that failed go back to the front of the queue, in order. */
  private notWritten(batch: InFlight, err: Error): void {
    this.inflight.splice(this.inflight.indexOf(batch), 1);
    this.failed.push(batch);
    this.failures++;
    this.lastError = err;
    if (isPermanentStoreError(err)) this.stop(err);
    if (this.inflight.length === 0 && !this.fatal) this.requeueFailed();
  }

  /** Stops writing for good after a failure no retry can heal; what is queued stays unwritten (and is reported). */
  stop(err: Error): void {
    if (this.fatal) return;
    this.fatal = err;
    this.lastError = err;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.log.error({ err: err.message, unwritten: this.queue.length + this.failed.reduce((n, b) => n + b.events.length, 0) }, 'recording store failed for good; nothing more can be recorded');
    for (const resolve of this.roomWaiters.splice(0)) resolve();
    this.onFatal?.(err);
  }

  private requeueFailed(): void {
    this.failed.sort((a, b) => a.start - b.start);
    this.queue = this.failed.flatMap((b) => b.events).concat(this.queue);
    this.queueStart = this.failed[0].start;
    this.failed = [];
    this.log.error({ err: this.lastError?.message, queued: this.queue.length }, 'recording store write failed; retrying');
    const delay = Math.min(1000, 10 * 2 ** Math.min(this.failures, 7));
    if (!this.timer) this.timer = setTimeout(() => this.kick(), delay);
  }

  /** Writes everything queued so far; resolves when it is in the store, rejects when the store fails. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    while (this.inflight.length || this.queue.length) {
      if (this.fatal) throw this.fatal;
      if (this.inflight.length) {
        await this.inflight[this.inflight.length - 1].done.catch(() => {});
        if (this.failures > 0) throw this.lastError ?? new Error('recording store unavailable');
        continue;
      }
      await this.writeBatch();
    }
  }

  /** Signs a closed session's head and appends the seal to the store-wide ledger. */
  async seal(sessionId: string, eventCount: number, finalHash: string, endedAt: number, endReason: string): Promise<LedgerEntry> {
    const data = {
      finalHash,
      eventCount,
      endedAt,
      endReason,
      keyId: this.keys.current.keyId,
      signature: this.keys.sign(sealMessage(sessionId, eventCount, finalHash)),
    };
    return this.store.appendLedger({ kind: 'seal', sessionId, time: endedAt, data }, (prevHash, seq) =>
      ledgerHash(prevHash, { seq, kind: 'seal', sessionId, time: endedAt, data }),
    );
  }

  /**
   * Seals the open sessions whose recording instance is gone (`ownerGone`, from the instance leases: a crash or
   * kill -9 left them open), with end reason `interrupted`. Sessions a live gateway records are never touched, nor
   * sessions whose opening this gateway's keys did not sign. Returns how many were sealed.
   */
  async recoverInterrupted(ownerGone: (instanceId: string | null) => boolean): Promise<number> {
    let count = 0;
    for (const owner of await this.store.openSessionOwners()) {
      if (!ownerGone(owner.instanceId)) continue;
      const s = await this.store.getSession(owner.sessionId);
      if (!s || s.endedAt !== null) continue;
      let first: StoredEvent | undefined;
      let last: StoredEvent | undefined;
      for await (const e of this.store.readEvents(s.id)) {
        first ??= e;
        last = e;
      }
      const forged = openingProblem(this.keys.keys, s.id, first);
      if (forged) {
        // Not a session this gateway opened (rows written into the store by someone else): never sealed with its key.
        this.log.error({ session: s.id, problem: forged }, 'open session without a valid opening signature left unsealed');
        continue;
      }
      count++;
      const endedAt = preciseNow();
      const seq = last ? last.seq + 1 : 0;
      const data = { reason: 'interrupted', bytesIn: s.bytesIn, bytesOut: s.bytesOut };
      const hash = eventHash(last?.hash ?? GENESIS, { sessionId: s.id, seq, time: endedAt, type: 'session.end', data });
      await this.store.appendEvents([{ sessionId: s.id, seq, time: endedAt, type: 'session.end', data, hash }]);
      await this.store.endSession(s.id, { endedAt, endReason: 'interrupted', bytesIn: s.bytesIn, bytesOut: s.bytesOut, eventCount: seq + 1, lastHash: hash });
      await this.seal(s.id, seq + 1, hash, endedAt, 'interrupted');
      this.log.warn({ session: s.id, instance: owner.instanceId }, 'sealed interrupted session');
    }
    return count;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The string as it comes back from the store (UTF-8): every lone surrogate replaced by U+FFFD. */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** One session's chain. `record` is synchronous and cheap; the Recorder batches the writes. */
export class SessionRecorder {
  readonly id: string;
  private seq = 0;
  private head = GENESIS;
  private ended = false;
  /** Ordinal (Recorder.enqueue) one past this session's last event. */
  private lastOrdinal = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    private readonly recorder: Recorder,
    readonly info: SessionRecord,
  ) {
    this.id = info.id;
  }

  get healthy(): boolean {
    return this.recorder.healthy;
  }

  /** The key of this session's result digests (KeyRing.resultDigestKey). */
  resultDigestKey(): { key: Buffer; id: string } {
    return this.recorder.resultDigestKey(this.id);
  }

  /** See Recorder.room(). */
  room(): Promise<void> | undefined {
    return this.recorder.room();
  }

  get eventCount(): number {
    return this.seq;
  }

  record(type: string, data: Record<string, unknown>, options: RecordOptions = {}): number {
    if (this.ended) return -1;
    const seq = this.seq++;
    const time = preciseNow();
    const dataJson = canonical(data);
    // Hashed as the store will give it back: a lone surrogate (text cut inside a pair) is stored as U+FFFD.
    const indexed = { outcome: options.outcome ?? null, searchText: options.searchText === undefined ? null : wellFormed(options.searchText) };
    const hash = eventHashOfCanonicalData(this.head, { sessionId: this.id, seq, time, type }, dataJson, indexed);
    this.head = hash;
    this.lastOrdinal = this.recorder.enqueue({ sessionId: this.id, seq, time, type, data, dataJson, hash, ...indexed });
    return seq;
  }

  /** A mark for `durable()`: everything this session recorded so far. */
  get mark(): number {
    return this.lastOrdinal;
  }

  /** Undefined when every event up to `mark` (default: all so far) is in the store, else a promise that resolves once it is (Recorder.durable). */
  durable(mark = this.lastOrdinal): Promise<void> | undefined {
    return this.recorder.durable(mark);
  }

  /** Records session.end, writes everything, then seals. Idempotent. */
  async end(reason: string, detail?: Record<string, unknown>): Promise<void> {
    if (this.ended) return;
    // The counts as recorded: bytes that still arrive while the end is written (a client's Terminate) are not the session's.
    const { bytesIn, bytesOut } = this;
    this.record('session.end', { reason, bytesIn, bytesOut, ...detail });
    this.ended = true;
    const endedAt = preciseNow();
    await this.recorder.flush();
    await this.recorder.store.endSession(this.id, {
      endedAt,
      endReason: reason,
      bytesIn,
      bytesOut,
      eventCount: this.seq,
      lastHash: this.head,
    });
    await this.recorder.seal(this.id, this.seq, this.head, endedAt, reason);
  }
}
