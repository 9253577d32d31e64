import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { SessionRecord, StoredEvent } from '../types.ts';
import { SqliteStore } from './sqlite-store.ts';

const session = (id: string): SessionRecord => ({
  id, protocol: 'postgres', connection: 'pg', subject: 'alice', groups: ['dba'], kind: 'user', authMethod: 'token',
  credentialId: null, clientAddress: '127.0.0.1:1', application: null, startedAt: 1, endedAt: null, endReason: null,
  bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
});

it('event batches (writer thread) and ledger appends (main connection) never fail on each other', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-concurrent-'));
  const store = new SqliteStore(join(dir, 'airlock.db'));
  const failures: string[] = [];
  let stop = false;
  try {
    // Sessions opening and being sealed while other sessions' statements are written: both connections write.
    const sealing = (async () => {
      for (let i = 0; !stop; i++) {
        await store.insertSession(session(`ses_m${i}`));
        await store.appendLedger({ kind: 'seal', sessionId: `ses_m${i}`, time: i, data: {} }, (prev, seq) => `${prev.slice(0, 56)}${String(seq).padStart(8, '0')}`)
          .catch((err: Error) => failures.push(`ledger: ${err.message}`));
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    const until = Date.now() + 1500;
    for (let k = 0; Date.now() < until; k++) {
      await store.insertSession(session(`ses_w${k}`));
      // Indexed statements of a session the writer has not seen: it reads the session's facts before writing.
      const events: StoredEvent[] = [];
      for (let seq = 0; seq < 20; seq++) {
        events.push({ sessionId: `ses_w${k}`, seq, time: seq, type: 'db.query', data: { text: `select ${seq}` }, hash: 'h'.repeat(64), searchText: `select ${seq} from t${k}`, outcome: 'allowed' });
      }
      await store.appendEvents(events).catch((err: Error) => failures.push(`events: ${err.message}`));
    }
    stop = true;
    await sealing;
    expect(failures.slice(0, 3)).toEqual([]);
  } finally {
    stop = true;
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
