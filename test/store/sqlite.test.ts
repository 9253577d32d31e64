import { expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { storeConformance } from './conformance.ts';

storeConformance('sqlite', async () => new SqliteStore(':memory:'));

it('sqlite: keeps no index on event time, and a clock set back between runs never widens a time-bounded read', async () => {
  const s = new SqliteStore(':memory:');
  expect(s.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'").pluck().all()).not.toContain('events_time');
  await s.insertSession({
    id: 'a', protocol: 'postgres', connection: 'app', subject: 'alice', groups: [], kind: 'user', authMethod: 'token', credentialId: null, clientAddress: '127.0.0.1:1',
    application: null, startedAt: 1, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
  });
  // Two runs of the gateway; the second started with the clock 50 ms behind where the first stopped.
  const times = [...Array.from({ length: 100 }, (_, i) => 100 + i), ...Array.from({ length: 100 }, (_, i) => 150 + i)];
  await s.appendEvents(times.map((time, seq) => ({ sessionId: 'a', seq, time, type: 'db.notice', data: {}, hash: `h${seq}` })));
  for (const [since, until] of [[120, 190], [170, 180], [160, 230], [0, 1000]]) {
    const read: number[] = [];
    for await (const e of s.readEventsSince(since, until)) read.push(e.seq);
    expect(read.every((seq) => times[seq] >= since && times[seq] < until), `${since}..${until}`).toBe(true);
    expect(read).toEqual([...read].sort((x, y) => x - y));
  }
  await s.close();
});
