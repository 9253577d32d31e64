import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { SessionRecord, StoredEvent } from '../types.ts';
import { SqliteStore } from './sqlite-store.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-wal-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const session = (id: string): SessionRecord => ({
  id, protocol: 'postgres', connection: 'pg', subject: 'alice', groups: ['dba'], kind: 'user', authMethod: 'token',
  credentialId: null, clientAddress: '127.0.0.1:1', application: null, startedAt: 1, endedAt: null, endReason: null,
  bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
});

it('leaves checkpoints to the checkpointer thread: it copies the writer\'s commits, a main-connection write copies nothing', async () => {
  const file = join(dir, 'airlock.db');
  const store = new SqliteStore(file);
  try {
    await store.insertSession(session('ses_a'));
    const empty = statSync(file).size;
    // About 1,500 pages of WAL: past SQLite's default checkpoint threshold (1,000), far under the writer's own.
    const events: StoredEvent[] = [];
    for (let seq = 0; seq < 3000; seq++) {
      events.push({ sessionId: 'ses_a', seq, time: 1e12 + seq, type: 'db.result', data: { sample: [['x'.repeat(1000), seq]] }, hash: 'h'.repeat(64), searchText: null, outcome: null });
    }
    await store.appendEvents(events);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(1000 * 4096);
    // Copied, and done copying: the file has grown and stays the same size across two looks 100 ms apart.
    let last = -1;
    const settled = () => {
      const size = statSync(file).size;
      const done = size === last && size > empty + 1000 * 4096;
      last = size;
      return done;
    };
    await expect.poll(settled, { timeout: 5000, interval: 100, message: 'the checkpointer copied the batch into the file' }).toBe(true);
    const before = statSync(file).size;
    await store.insertSession(session('ses_b'));
    await store.endSession('ses_b', { endedAt: 2, endReason: 'client_terminated', bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null });
    await new Promise((r) => setTimeout(r, 300));
    expect(statSync(file).size).toBe(before);
    expect((await store.getSession('ses_b'))?.endReason).toBe('client_terminated');
  } finally {
    await store.close();
  }
});
