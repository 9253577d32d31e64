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
