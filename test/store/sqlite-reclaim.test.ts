import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { SessionRecord, StoredEvent } from '../../src/store/types.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-reclaim-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const session = (id: string): SessionRecord => ({
  id, protocol: 'postgres', connection: 'app', subject: 'alice', groups: [], kind: 'user', authMethod: 'token', credentialId: null, clientAddress: '127.0.0.1:1',
  application: null, startedAt: 1, endedAt: 2, endReason: 'client_terminated', bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
});

/** `n` statements of `id` with results of about 1.5 KB each that do not compress (random hex). */
function statements(id: string, n: number): StoredEvent[] {
  return Array.from({ length: n }, (_, seq) => ({
    sessionId: id, seq, time: 1 + seq / 1000, type: 'db.result', data: { sample: [[randomBytes(750).toString('hex')]] }, hash: `h${seq}`,
    searchText: `select ${id} ${seq}`, outcome: 'allowed',
  }));
}

async function fill(s: SqliteStore, ids: string[], n: number): Promise<void> {
  for (const id of ids) {
    await s.insertSession(session(id));
    for (let i = 0; i < n; i += 500) await s.appendEvents(statements(id, n).slice(i, i + 500));
  }
}

it('sqlite: a purge gives the space of deleted sessions back to the file system, and what is kept stays readable', async () => {
  const file = join(dir, 'airlock.db');
  const first = new SqliteStore(file);
  await fill(first, ['gone', 'kept'], 4000);
  await first.close();
  const full = statSync(file).size;

  const s = new SqliteStore(file);
  // Both run in steps, with the event loop free in between: recording goes on while a large session is purged.
  const left = () => s.db.prepare("SELECT count(*) FROM events WHERE session_id = 'gone'").pluck().get() as number;
  const deleting = s.deleteSession('gone');
  const midway = await new Promise<number>((resolve) => setImmediate(() => resolve(left())));
  expect(midway).toBeGreaterThan(0);
  expect(midway).toBeLessThan(4000);
  await deleting;
  // Deleted in several steps, the index entries with the rows.
  expect(s.db.prepare("SELECT count(*) FROM events WHERE session_id = 'gone'").pluck().get()).toBe(0);
  expect(await s.search({ text: 'select gone 3999' })).toEqual([]);
  const indexed = (word: string) => s.db.prepare('SELECT count(*) FROM events_fts WHERE events_fts MATCH ?').pluck().get(`search_text:${word}`);
  expect([indexed('gone'), indexed('kept')]).toEqual([0, 4000]);
  const pages = () => s.db.pragma('page_count', { simple: true }) as number;
  const before = pages();
  const reclaiming = s.reclaimSpace();
  const pagesMidway = await new Promise<number>((resolve) => setImmediate(() => resolve(pages())));
  const released = await reclaiming;
  expect(pagesMidway).toBeLessThan(before);
  expect(pagesMidway).toBeGreaterThan(pages());
  // About half of the file (one of two equal sessions) goes back; nothing is left on the free list.
  expect(released).toBeGreaterThan(full * 0.4);
  expect(s.db.pragma('freelist_count', { simple: true })).toBe(0);
  expect(await s.reclaimSpace()).toBe(0);
  let kept = 0;
  for await (const e of s.readEvents('kept')) {
    expect(e.seq).toBe(kept++);
  }
  expect(kept).toBe(4000);
  expect((await s.search({ text: 'select kept 3999' })).map((h) => h.seq)).toEqual([3999]);
  await s.close();
  expect(statSync(file).size).toBeLessThan(full - released * 0.9);
});

it('sqlite: a store made before incremental vacuum keeps working and reports nothing to reclaim', async () => {
  const file = join(dir, 'airlock.db');
  // A table that exists before the store sets up its schema: auto_vacuum can no longer be chosen, as in a store
  // created by an earlier version.
  const raw = new Database(file);
  raw.exec('CREATE TABLE unrelated (x)');
  raw.close();
  const s = new SqliteStore(file);
  expect(s.db.pragma('auto_vacuum', { simple: true })).toBe(0);
  await fill(s, ['gone', 'kept'], 500);
  await s.deleteSession('gone');
  expect(await s.reclaimSpace()).toBe(0);
  expect(s.db.pragma('freelist_count', { simple: true })).toBeGreaterThan(0);
  expect((await s.search({ text: 'select kept 499' })).map((h) => h.seq)).toEqual([499]);
  await s.close();
});
