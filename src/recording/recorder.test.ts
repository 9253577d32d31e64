import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../core/logger.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { StoredEvent } from '../store/types.ts';
import { KeyRing } from './keys.ts';
import { Recorder, type SessionRecorder } from './recorder.ts';

const identity = { subject: 'alice', groups: ['dba'], kind: 'user' as const, authMethod: 'token' as const };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let store: SqliteStore;
/** When each batch reached the store, and how many events it held. */
let batches: { at: number; size: number }[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-recorder-'));
  store = new SqliteStore(':memory:');
  batches = [];
  const append = store.appendEvents.bind(store);
  store.appendEvents = (events: readonly StoredEvent[]) => {
    batches.push({ at: performance.now(), size: events.length });
    return append(events);
  };
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function openSession(recorder: Recorder): Promise<SessionRecorder> {
  const s = await recorder.open({ protocol: 'postgres', connection: 'pg', identity, clientAddress: '127.0.0.1:1' });
  await recorder.flush(); // session.start
  return s;
}

async function storedCount(id: string): Promise<number> {
  let n = 0;
  for await (const _ of store.readEvents(id)) n++;
  return n;
}

describe('Recorder group commit', () => {
  it('writes events that keep coming in batches spaced by writeSpacingMs', async () => {
    const recorder = new Recorder(store, KeyRing.load(dir), silentLogger, { flushIntervalMs: 5, writeSpacingMs: 300 });
    const s = await openSession(recorder);
    const before = batches.length;
    s.record('db.query', { mode: 'simple', text: 'select 1' });
    await sleep(100);
    // The previous write began moments ago: this event waits for company instead of a commit of its own.
    expect(batches.length).toBe(before);
    s.record('db.query', { mode: 'simple', text: 'select 2' });
    while (batches.length === before) await sleep(10);
    expect(batches[before]!.size).toBe(2);
    expect(batches[before]!.at - batches[before - 1]!.at).toBeGreaterThanOrEqual(295);
    expect(await storedCount(s.id)).toBe(3);
    await recorder.close();
  });

  it('writes the first event after a quiet spell after flushIntervalMs, not the spacing', async () => {
    const recorder = new Recorder(store, KeyRing.load(dir), silentLogger, { flushIntervalMs: 5, writeSpacingMs: 2000 });
    const s = await openSession(recorder);
    await sleep(2100);
    const before = batches.length;
    const t0 = performance.now();
    s.record('db.query', { mode: 'simple', text: 'select 1' });
    while (batches.length === before) await sleep(5);
    expect(batches[before]!.at - t0).toBeLessThan(1000);
    await recorder.close();
  });

  it('does not make flush() or a full batch wait for the spacing', async () => {
    const recorder = new Recorder(store, KeyRing.load(dir), silentLogger, { flushIntervalMs: 5, writeSpacingMs: 60_000, maxBatch: 10 });
    const s = await openSession(recorder);
    const t0 = performance.now();
    s.record('db.query', { mode: 'simple', text: 'select 1' });
    await recorder.flush();
    expect(await storedCount(s.id)).toBe(2);
    for (let i = 0; i < 10; i++) s.record('db.query', { mode: 'simple', text: `select ${i}` });
    while ((await storedCount(s.id)) < 12) await sleep(5);
    expect(performance.now() - t0).toBeLessThan(30_000);
    await recorder.close();
  });
});

describe('Recorder with a store that takes batches in order (pipelinedWrites)', () => {
  /** A store whose appends settle when the test says, in order, as the writer thread does. */
  class OrderedStore {
    readonly pipelinedWrites = true;
    readonly applied: StoredEvent[] = [];
    readonly calls: { events: readonly StoredEvent[]; settle: (fail?: Error) => void }[] = [];
    private failedBefore = -1;
    async insertSession(): Promise<void> {}
    appendEvents(events: readonly StoredEvent[]): Promise<void> {
      return new Promise((resolve, reject) => {
        const index = this.calls.length;
        let settled = false;
        this.calls.push({
          events,
          settle: (fail) => {
            if (settled) return;
            settled = true;
            // As the contract says: a batch handed over before an earlier failure was reported fails unapplied.
            if (fail || index <= this.failedBefore) {
              if (fail) this.failedBefore = this.calls.length - 1;
              reject(fail ?? new Error('not written: an earlier batch failed'));
            } else {
              this.applied.push(...events);
              resolve();
            }
          },
        });
      });
    }
  }

  it('hands over the next batch while one is written, and after a failure writes both again in order, once', async () => {
    const fake = new OrderedStore();
    const recorder = new Recorder(fake as unknown as SqliteStore, KeyRing.load(dir), silentLogger, { flushIntervalMs: 1, writeSpacingMs: 1, maxBatch: 3 });
    const s = await recorder.open({ protocol: 'postgres', connection: 'pg', identity, clientAddress: '127.0.0.1:1' });
    for (let i = 0; i < 3; i++) s.record('db.query', { mode: 'simple', text: `select ${i}` });
    await sleep(5);
    expect(fake.calls).toHaveLength(1); // session.start and two statements: a full batch
    for (let i = 3; i < 6; i++) s.record('db.query', { mode: 'simple', text: `select ${i}` });
    expect(fake.calls).toHaveLength(2); // the second is handed over before the first settled
    for (let i = 6; i < 9; i++) s.record('db.query', { mode: 'simple', text: `select ${i}` });
    expect(fake.calls).toHaveLength(2); // never more than two in flight
    fake.calls[0]!.settle(new Error('disk I/O error'));
    fake.calls[1]!.settle();
    await sleep(1);
    expect(recorder.healthy).toBe(false);
    expect(fake.applied).toEqual([]);
    for (let i = 0; !recorder.healthy && i < 200; i++) {
      for (const c of fake.calls) c.settle();
      await sleep(5);
    }
    const flushed = recorder.flush();
    for (let i = 0; i < 20; i++, await sleep(1)) for (const c of fake.calls) c.settle();
    await flushed;
    expect(recorder.healthy).toBe(true);
    expect(fake.applied.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('turns unhealthy while more than maxBacklogChars wait for the store, and healthy again once they are in', async () => {
    const fake = new OrderedStore();
    const recorder = new Recorder(fake as unknown as SqliteStore, KeyRing.load(dir), silentLogger, { flushIntervalMs: 1, writeSpacingMs: 1, maxBacklogChars: 2000 });
    const s = await recorder.open({ protocol: 'postgres', connection: 'pg', identity, clientAddress: '127.0.0.1:1' });
    for (let i = 0; i < 10; i++) s.record('db.query', { mode: 'simple', text: `select '${'x'.repeat(100)}' as v${i}` });
    expect(recorder.healthy).toBe(true);
    for (let i = 0; i < 20; i++) s.record('db.query', { mode: 'simple', text: `select '${'x'.repeat(100)}' as w${i}` });
    expect(recorder.healthy).toBe(false);
    expect(recorder.unhealthyReason).toMatch(/behind/);
    // A stream recorded whole is held until the backlog is down to half the limit.
    let roomAt: number | undefined;
    const room = recorder.room();
    expect(room).toBeInstanceOf(Promise);
    void room!.then(() => (roomAt = recorder.backlog));
    await sleep(5);
    expect(roomAt).toBeUndefined();
    const flushed = recorder.flush();
    for (let i = 0; i < 20; i++, await sleep(1)) for (const c of fake.calls) c.settle();
    await flushed;
    expect(roomAt).toBeLessThanOrEqual(1000);
    expect(recorder.room()).toBeUndefined();
    expect(recorder.healthy).toBe(true);
    expect(fake.applied).toHaveLength(31);
  });
});

describe('Recorder.durable (acknowledgements wait for their events)', () => {
  it('resolves once the session\'s events are committed, writing at once rather than after the spacing; waiters meanwhile share one batch', async () => {
    const recorder = new Recorder(store, KeyRing.load(dir), silentLogger, { flushIntervalMs: 5, writeSpacingMs: 10_000 });
    const a = await openSession(recorder);
    const b = await openSession(recorder);
    const before = batches.length;
    a.record('db.query', { mode: 'simple', text: 'select 1' });
    const started = performance.now();
    await a.durable();
    expect(performance.now() - started).toBeLessThan(1000); // not the 10 s spacing
    expect(await storedCount(a.id)).toBe(2);
    expect(a.durable()).toBeUndefined();
    // A store that holds the next write: the waiters that come meanwhile go to the store in one batch.
    const append = store.appendEvents;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    store.appendEvents = async (events) => {
      await gate;
      return append(events);
    };
    a.record('db.query', { mode: 'simple', text: 'select 2' });
    const first = a.durable();
    b.record('db.query', { mode: 'simple', text: 'select 3' });
    a.record('db.query', { mode: 'simple', text: 'select 4' });
    const both = Promise.all([a.durable(), b.durable()]);
    let settled = false;
    void first!.then(() => (settled = true));
    await sleep(50);
    expect(settled).toBe(false);
    release();
    await first;
    await both;
    expect(batches.slice(before + 1).map((x) => x.size)).toEqual([1, 2]);
    await recorder.close();
  });
});
