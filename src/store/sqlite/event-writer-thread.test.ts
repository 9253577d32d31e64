import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { StoredEvent } from '../types.ts';
import { SqliteStore } from './sqlite-store.ts';

const event = (seq: number): StoredEvent => ({ sessionId: 'ses_a', seq, time: seq, type: 'db.query', data: { text: `select ${seq}` }, hash: 'h'.repeat(64), searchText: null, outcome: null });

it('writer thread: a batch handed over behind a failing one is not written; one handed over after the failure is', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-writer-'));
  const store = new SqliteStore(join(dir, 'airlock.db'));
  try {
    expect(store.pipelinedWrites).toBe(true);
    await store.insertSession({
      id: 'ses_a', protocol: 'postgres', connection: 'pg', subject: 'alice', groups: [], kind: 'user', authMethod: 'token', credentialId: null,
      clientAddress: '127.0.0.1:1', application: null, startedAt: 1, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
    });
    await store.appendEvents([event(0)]);
    const failing = store.appendEvents([event(0)]); // the same sequence number again
    const behind = store.appendEvents([event(1)]);
    await expect(failing).rejects.toThrow(/UNIQUE/);
    await expect(behind).rejects.toThrow(/earlier batch failed/);
    await store.appendEvents([event(1)]);
    const seqs: number[] = [];
    for await (const e of store.readEvents('ses_a')) seqs.push(e.seq);
    expect(seqs).toEqual([0, 1]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
