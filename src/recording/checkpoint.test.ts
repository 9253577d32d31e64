import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { forensics, type Forensics } from '../../test/forensics/fixtures.ts';
import { silentLogger } from '../core/logger.ts';
import { GENESIS } from './chain.ts';
import { EMPTY_ROOT } from './merkle.ts';
import { merkleRoot } from './merkle-index.ts';
import { checkpointMessage } from './signatures.ts';
import {
  checkCheckpoint, createCheckpoint, isCheckpoint, latestCheckpointFile, publishCheckpoint, readCheckpointFile, readLatestCheckpoint, startCheckpointing,
} from './checkpoint.ts';
import { forensicsSettings } from './forensics-config.ts';
import { verifyStore } from './verify.ts';

let f: Forensics;
beforeEach(() => {
  f = forensics();
});
afterEach(async () => {
  await f.cleanup();
});

describe('checkpoints', () => {
  it('signs the ledger head and records the checkpoint in the ledger', async () => {
    const empty = await createCheckpoint(f.store, f.keys);
    expect(empty.checkpoint).toMatchObject({ ledgerSeq: 0, ledgerHash: GENESIS, keyId: f.keys.current.keyId });
    await f.session();
    const head = await f.store.ledgerHead();
    const { checkpoint, entry } = await createCheckpoint(f.store, f.keys);
    expect(checkpoint).toMatchObject({ ledgerSeq: head!.seq, ledgerHash: head!.hash });
    expect(entry).toMatchObject({ kind: 'checkpoint', sessionId: null, seq: head!.seq + 1, data: checkpoint });
    expect(checkCheckpoint(checkpoint, f.keys.keys)).toBeNull();
    expect(checkCheckpoint({ ...checkpoint, ledgerSeq: 1, treeSize: 1 }, f.keys.keys)).toMatch(/signature invalid/);
    expect(checkCheckpoint({ ...checkpoint, rootHash: EMPTY_ROOT.toString('hex') }, f.keys.keys)).toMatch(/signature invalid/);
    expect(checkCheckpoint({ ...checkpoint, treeSize: 1 }, f.keys.keys)).toBe('malformed checkpoint');
    expect(checkCheckpoint({ ...checkpoint, rootHash: undefined }, f.keys.keys)).toBe('malformed checkpoint');
    expect(checkpoint).toMatchObject({ treeSize: head!.seq, rootHash: (await merkleRoot(f.store, head!.seq)).toString('hex') });
    expect(empty.checkpoint).toMatchObject({ treeSize: 0, rootHash: EMPTY_ROOT.toString('hex') });
    const r = await verifyStore(f.store, f.keys.keys, { checkpoint });
    expect(r.breaks).toEqual([]);
    expect(r.consistency).toMatchObject({ fromSize: head!.seq, toSize: head!.seq + 1, verified: true });
  });

  it('still verifies a checkpoint made before the Merkle tree (no tree head, v1 message)', async () => {
    await f.session();
    const head = (await f.store.ledgerHead())!;
    const time = Date.now();
    const old = { ledgerSeq: head.seq, ledgerHash: head.hash, time, keyId: f.keys.current.keyId, signature: f.keys.sign(checkpointMessage(head.seq, head.hash, time)) };
    expect(isCheckpoint(old)).toBe(true);
    expect(checkCheckpoint(old, f.keys.keys)).toBeNull();
    await f.session();
    const r = await verifyStore(f.store, f.keys.keys, { checkpoint: old });
    expect(r.breaks).toEqual([]);
    expect(r.consistency).toBeNull();
    expect(r.tree?.size).toBe(2);
  });

  it('names a checkpoint entry altered inside the ledger', async () => {
    await f.session();
    await createCheckpoint(f.store, f.keys);
    f.store.db.prepare("UPDATE ledger SET data = json_set(data, '$.ledgerSeq', 0, '$.treeSize', 0) WHERE kind = 'checkpoint'").run();
    const r = await verifyStore(f.store, f.keys.keys);
    expect(r.breaks.map((b) => b.what)).toEqual(expect.arrayContaining([expect.stringMatching(/checkpoint entry hash mismatch/), expect.stringMatching(/^checkpoint: signature invalid/)]));
  });

  it('names a checkpoint entry whose tree head does not match the ledger', async () => {
    await f.session();
    await f.session();
    await createCheckpoint(f.store, f.keys);
    const wrong = (await merkleRoot(f.store, 1)).toString('hex');
    f.store.db.prepare("UPDATE ledger SET data = json_set(data, '$.rootHash', ?) WHERE kind = 'checkpoint'").run(wrong);
    const r = await verifyStore(f.store, f.keys.keys);
    expect(r.breaks).toContainEqual(expect.objectContaining({ ledgerSeq: 3, what: "checkpoint entry's Merkle root does not match the ledger's first 2 entries" }));
  });

  it('publishes to latest.json and an append-only checkpoints.jsonl', async () => {
    const a = (await createCheckpoint(f.store, f.keys)).checkpoint;
    await f.session();
    const b = (await createCheckpoint(f.store, f.keys)).checkpoint;
    await publishCheckpoint(a, { dataDir: f.dir });
    const r = await publishCheckpoint(b, { dataDir: f.dir });
    expect(r.webhook).toBe('none');
    expect(readLatestCheckpoint(f.dir)).toEqual(b);
    const log = join(f.dir, 'checkpoints', 'checkpoints.jsonl');
    expect(readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l))).toEqual([a, b]);
    // Reading the log picks the checkpoint covering the most of the ledger.
    writeFileSync(log, `${JSON.stringify(b)}\n${JSON.stringify(a)}\n`);
    expect(readCheckpointFile(log)).toEqual(b);
    expect(existsSync(latestCheckpointFile(f.dir))).toBe(true);
  });

  it('POSTs to the webhook, and only logs when the webhook fails', async () => {
    const received: unknown[] = [];
    let status = 200;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    try {
      const { checkpoint } = await createCheckpoint(f.store, f.keys);
      expect((await publishCheckpoint(checkpoint, { dataDir: f.dir, webhookUrl: url })).webhook).toBe('sent');
      expect(received).toEqual([{ method: 'POST', type: 'application/json', body: { type: 'airlock.checkpoint', checkpoint } }]);
      status = 500;
      const log = { ...silentLogger, warn: vi.fn() } as unknown as typeof silentLogger;
      expect((await publishCheckpoint(checkpoint, { dataDir: f.dir, webhookUrl: url, log })).webhook).toBe('failed');
      expect(log.warn).toHaveBeenCalledWith(expect.objectContaining({ err: 'HTTP 500' }), 'checkpoint webhook failed');
    } finally {
      server.close();
    }
    // Nothing listening: still no throw.
    const { checkpoint } = await createCheckpoint(f.store, f.keys);
    expect((await publishCheckpoint(checkpoint, { dataDir: f.dir, webhookUrl: 'http://127.0.0.1:1/', timeoutMs: 2000 })).webhook).toBe('failed');
  });

  it('checkpoints periodically, skipping intervals with nothing new, and stops', async () => {
    const stop = startCheckpointing({ store: f.store, keys: f.keys, dataDir: f.dir, intervalMs: 20, log: silentLogger });
    await f.session();
    await waitFor(() => readLatestCheckpoint(f.dir)?.ledgerSeq === 1);
    await new Promise((r) => setTimeout(r, 100));
    await stop();
    const kinds = f.store.db.prepare('SELECT kind FROM ledger ORDER BY seq').all().map((r) => (r as { kind: string }).kind);
    expect(kinds).toEqual(['seal', 'checkpoint']);
    const count = kinds.length;
    await f.session();
    await new Promise((r) => setTimeout(r, 60));
    expect(f.store.db.prepare('SELECT count(*) AS n FROM ledger').get()).toEqual({ n: count + 1 });
  });

  it('reads the proposed forensics config block with defaults', () => {
    expect(forensicsSettings({})).toEqual({ checkpointIntervalMs: 600_000, checkpointWebhook: undefined, retentionIntervalMs: 3_600_000, compactAfterMs: 600_000 });
    expect(forensicsSettings({ forensics: { checkpointInterval: '5m', checkpointWebhook: 'https://audit.example/cp' } })).toMatchObject({
      checkpointIntervalMs: 300_000, checkpointWebhook: 'https://audit.example/cp',
    });
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('condition not met');
}
