import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../core/logger.ts';
import { KeyRing } from '../../recording/keys.ts';
import { Recorder } from '../../recording/recorder.ts';
import { verifySession } from '../../recording/verify-session.ts';
import { verifyStore } from '../../recording/verify.ts';
import type { StoredEvent } from '../types.ts';
import { createCompactor } from './compaction.mjs';
import { CompactorThread, type CompactionReport, type CompactorOptions } from './compactor-thread.ts';
import { SqliteStore } from './sqlite-store.ts';

/** Small blocks, so a session of half a megabyte spans many of them and compresses in well under a second. */
const BLOCK = 64 * 1024;

let dir: string;
let file: string;
let store: SqliteStore;
let keys: KeyRing;
let recorder: Recorder;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-compaction-'));
  file = join(dir, 'airlock.db');
  store = new SqliteStore(file);
  keys = KeyRing.load(dir);
  recorder = new Recorder(store, keys, silentLogger);
});

afterEach(async () => {
  await recorder.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Terminal-like text: directory listings with colour codes and some multi-byte characters. */
function terminalOutput(bytes: number, seed: number): string {
  let out = '';
  for (let i = 0; out.length < bytes; i++) {
    const n = (i * 2654435761 + seed) >>> 0;
    out += `\x1b[01;34m${['drwxr-xr-x', '-rw-r--r--', '-rwxr-xr-x'][n % 3]}\x1b[0m ${n % 7} root root ${n % 100000} Jan ${1 + (n % 28)} `;
    out += `${['report', 'données', '日本語', 'build', 'log'][n % 5]}-${n % 997}${n % 11 === 0 ? ' 🚀' : ''}.txt\r\n`;
  }
  return out;
}

/** Records an ended SSH session: output chunks of 200 B to 3 KiB (some stored plain, some deflated), keystrokes, other events between. */
async function terminalSession(bytes = 500_000, seed = 1): Promise<string> {
  const s = await recorder.open({
    protocol: 'ssh', connection: 'box', clientAddress: '127.0.0.1:50000',
    identity: { subject: 'alice', groups: ['ops'], kind: 'user', authMethod: 'token', credentialId: 'tok_1' },
  });
  s.record('ssh.shell.start', { channel: 0, term: 'xterm' });
  const out = terminalOutput(bytes, seed);
  for (let i = 0, n = 0; i < out.length; n++) {
    const text = out.slice(i, (i += 200 + ((n * 7919) % 2800)));
    s.record('ssh.output', { channel: 0, stream: 'stdout', data: text }, { searchText: text });
    if (n % 40 === 0) s.record('ssh.input', { channel: 0, data: 'ls -la\r' });
    if (n % 100 === 0) s.record('ssh.resize', { channel: 0, cols: 80 + (n % 40), rows: 24 });
  }
  await s.end('client_closed');
  return s.id;
}

/** A database session: short statements stay in their rows; a large result sample (stored deflated) goes into a block. */
async function dbSession(): Promise<string> {
  const s = await recorder.open({
    protocol: 'postgres', connection: 'pg', clientAddress: '127.0.0.1:50001',
    identity: { subject: 'bob', groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: 'tok_2' },
  });
  s.record('db.query', { text: 'select * from invoices' }, { searchText: 'select * from invoices', outcome: 'allowed' });
  s.record('db.result', { tag: 'SELECT 200', rows: 200, sample: Array.from({ length: 200 }, (_, i) => ({ id: i, total: i * 3.5 })) });
  await s.end('client_terminated');
  return s.id;
}

async function events(id: string, from = 0): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.readEvents(id, from)) out.push(e);
  return out;
}

/** Starts the store's compactor and resolves with its reports once it has finished a round after at least `sessions` were compacted. */
function compact(sessions: number, o: Partial<CompactorOptions> = {}): Promise<CompactionReport[]> {
  return new Promise((resolve) => {
    const reports: CompactionReport[] = [];
    let done = 0;
    store.startCompaction({
      afterMs: 0, blockTarget: BLOCK, ...o,
      onReport: (r) => {
        reports.push(r);
        if (r.outcome === 'compacted') done++;
        if (r.outcome === 'idle' && done >= sessions) resolve(reports);
      },
    });
  });
}

/** Another connection to the store file, as another process (or someone editing the file) would have. */
function tamper(sql: string, ...args: unknown[]): void {
  const db = new Database(file);
  try {
    db.prepare(sql).run(...args);
  } finally {
    db.close();
  }
}

const count = (sql: string, ...args: unknown[]) => store.db.prepare(sql).pluck().get(...args) as number;

describe('compaction', () => {
  it('re-encodes terminal output into blocks; every read returns the same events, and verify passes', async () => {
    const ssh = await terminalSession();
    const db = await dbSession();
    const before = { ssh: await events(ssh), db: await events(db) };
    const since: StoredEvent[] = [];
    for await (const e of store.readEventsSince(0)) since.push(e);
    const storedBefore = count('SELECT total(length(data_z)) + total(length(CAST(data AS BLOB))) FROM events');

    const reports = await compact(2);
    expect(reports.filter((r) => r.outcome === 'compacted')).toHaveLength(2);
    expect(count('SELECT count(*) FROM sessions WHERE compacted_at IS NULL')).toBe(0);
    // Every output and keystroke event of the terminal session is in a block; its other events keep their rows.
    expect(count("SELECT count(*) FROM events WHERE session_id = ? AND type IN ('ssh.output', 'ssh.input') AND block IS NULL", ssh)).toBe(0);
    expect(count("SELECT count(*) FROM events WHERE session_id = ? AND type NOT IN ('ssh.output', 'ssh.input') AND block IS NOT NULL", ssh)).toBe(0);
    expect(count('SELECT count(*) FROM events WHERE block IS NOT NULL AND (data_z IS NOT NULL OR data <> \'\')')).toBe(0);
    expect(count('SELECT count(*) FROM event_blocks WHERE session_id = ?', ssh)).toBeGreaterThan(5);
    // In the database session only the deflated result moved.
    expect(store.db.prepare('SELECT type FROM events WHERE session_id = ? AND block IS NOT NULL').pluck().all(db)).toEqual(['db.result']);
    const storedAfter = count('SELECT total(length(data_z)) + total(length(CAST(data AS BLOB))) FROM events') + count('SELECT total(length(data)) FROM event_blocks');
    expect(storedAfter).toBeLessThan(storedBefore * 0.8);

    expect(await events(ssh)).toEqual(before.ssh);
    expect(await events(db)).toEqual(before.db);
    const sinceAfter: StoredEvent[] = [];
    for await (const e of store.readEventsSince(0)) sinceAfter.push(e);
    expect(sinceAfter).toEqual(since);
    // Pages start anywhere: inside a block, at its first event, across the 500-row page boundary.
    const firsts = store.db.prepare('SELECT min(seq) FROM events WHERE session_id = ? AND block IS NOT NULL GROUP BY block').pluck().all(ssh) as number[];
    for (const from of [1, 250, 499, 500, 501, firsts[3], firsts[3] + 1, before.ssh.length - 1]) {
      expect(await events(ssh, from), `from ${from}`).toEqual(before.ssh.slice(from));
    }
    expect((await verifyStore(store, keys.keys)).breaks).toEqual([]);
    expect((await verifySession(store, keys.keys, ssh)).ok).toBe(true);
    // Search keeps working on the rows' own text.
    expect((await store.search({ text: '日本語' })).length).toBeGreaterThan(0);
  });

  it('verify names the session whose block, or an event reference into it, was altered', async () => {
    const ssh = await terminalSession(200_000);
    const other = await terminalSession(200_000, 2);
    await compact(2);
    await events(ssh); // the blocks are cached now: the check must still see what the file holds
    const block = count('SELECT min(id) FROM event_blocks WHERE session_id = ?', ssh);
    tamper('UPDATE event_blocks SET data = substr(data, 1, 100) || zeroblob(1) || substr(data, 102) WHERE id = ?', block);
    let r = await verifyStore(store, keys.keys);
    expect(r.breaks.length).toBeGreaterThan(0);
    expect(r.breaks.every((b) => b.sessionId === ssh)).toBe(true);
    expect((await verifySession(store, keys.keys, other)).ok).toBe(true);

    const seq = count('SELECT seq FROM events WHERE session_id = ? AND block IS NOT NULL ORDER BY seq LIMIT 1 OFFSET 20', other);
    tamper('UPDATE events SET block_offset = block_offset + 1 WHERE session_id = ? AND seq = ?', other, seq);
    r = await verifyStore(store, keys.keys);
    expect(r.breaks).toContainEqual(expect.objectContaining({ sessionId: other, seq }));

    // Pointed at a block of another session: refused even before the hash would fail.
    const foreign = count('SELECT max(id) FROM event_blocks WHERE session_id = ?', ssh);
    tamper('UPDATE events SET block_offset = block_offset - 1, block = ? WHERE session_id = ? AND seq = ?', foreign, other, seq);
    expect((await verifySession(store, keys.keys, other)).breaks).toContainEqual({ seq, problem: expect.stringMatching(/belongs to session/) });
  });

  it('leaves a session whose rows changed between reading and writing as it is, and compacts it next time', async () => {
    const ssh = await terminalSession(300_000);
    const seq = count("SELECT seq FROM events WHERE session_id = ? AND type = 'ssh.output' ORDER BY seq LIMIT 1", ssh);
    const db = new Database(file);
    try {
      const c = createCompactor(db, { blockTarget: BLOCK });
      const running = c.compact(ssh); // reads and compresses its first block, then yields
      store.db.prepare("UPDATE events SET data = json_set(data, '$.data', 'rewritten') WHERE session_id = ? AND seq = ?").run(ssh, seq);
      expect((await running).outcome).toBe('changed');
      expect(count('SELECT count(*) FROM event_blocks')).toBe(0);
      expect(count('SELECT count(*) FROM events WHERE block IS NOT NULL')).toBe(0);
      expect(count('SELECT count(*) FROM sessions WHERE compacted_at IS NOT NULL')).toBe(0);

      expect((await c.compact(ssh)).outcome).toBe('compacted');
    } finally {
      db.close();
    }
    // The change is kept, so verify still names it.
    expect((await events(ssh)).find((e) => e.seq === seq)?.data.data).toBe('rewritten');
    expect((await verifySession(store, keys.keys, ssh)).breaks).toContainEqual(expect.objectContaining({ seq }));
  });

  it('two compactors on one store (two gateway processes) compact a session once', async () => {
    const ssh = await terminalSession(300_000);
    const a = new Database(file);
    const b = new Database(file);
    try {
      for (const db of [a, b]) db.pragma('busy_timeout = 10000');
      const outcomes = await Promise.all([createCompactor(a, { blockTarget: BLOCK }).compact(ssh), createCompactor(b, { blockTarget: BLOCK }).compact(ssh)]);
      expect(outcomes.map((o) => o.outcome).sort()).toEqual(['changed', 'compacted']);
    } finally {
      a.close();
      b.close();
    }
    const blocks = count('SELECT count(*) FROM event_blocks');
    expect(count('SELECT count(DISTINCT block) FROM events WHERE block IS NOT NULL')).toBe(blocks);
    expect((await verifySession(store, keys.keys, ssh)).ok).toBe(true);
  });

  it('deleting a session (retention) deletes its blocks and no other', async () => {
    const gone = await terminalSession(200_000);
    const kept = await terminalSession(200_000, 3);
    await compact(2);
    const keptBlocks = count('SELECT count(*) FROM event_blocks WHERE session_id = ?', kept);
    await events(gone);
    await store.deleteSession(gone);
    expect(count('SELECT count(*) FROM event_blocks WHERE session_id = ?', gone)).toBe(0);
    expect(count('SELECT count(*) FROM event_blocks WHERE session_id = ?', kept)).toBe(keptBlocks);
    expect(await events(gone)).toEqual([]);
    expect((await verifySession(store, keys.keys, kept)).ok).toBe(true);
  });

  it('falls back to a faster quality for sessions it is more than half an hour late for, until it has caught up', async () => {
    const late = await terminalSession(50_000, 5);
    store.db.prepare('UPDATE sessions SET ended_at = ended_at - 7200000 WHERE id = ?').run(late);
    const onTime = await terminalSession(50_000, 6);
    const reports = await compact(2);
    const quality = (id: string) => reports.find((r) => r.outcome === 'compacted' && r.sessionId === id) as { quality: number } | undefined;
    expect(quality(late)?.quality).toBe(9);
    expect(quality(onTime)?.quality).toBe(11);
    store.db.prepare('UPDATE sessions SET ended_at = ended_at + 7200000 WHERE id = ?').run(late); // as sealed again
    for (const id of [late, onTime]) expect((await verifySession(store, keys.keys, id)).ok).toBe(true);
  });

  it('compacts only sessions ended at least compactAfter ago, and never an open one', async () => {
    const recent = await terminalSession(50_000);
    const old = await terminalSession(50_000, 4);
    store.db.prepare('UPDATE sessions SET ended_at = ended_at - 7200000 WHERE id = ?').run(old);
    const open = await recorder.open({
      protocol: 'ssh', connection: 'box', clientAddress: '127.0.0.1:50002',
      identity: { subject: 'carol', groups: [], kind: 'user', authMethod: 'token', credentialId: 'tok_3' },
    });
    open.record('ssh.output', { channel: 0, stream: 'stdout', data: 'x'.repeat(5000) });
    await recorder.flush();

    const reports = await compact(1, { afterMs: 3_600_000, pollMs: 36_000_000 });
    expect(reports.filter((r) => r.outcome === 'compacted').map((r) => 'sessionId' in r && r.sessionId)).toEqual([old]);
    expect(store.db.prepare('SELECT id FROM sessions WHERE compacted_at IS NOT NULL').pluck().all()).toEqual([old]);
    expect(count('SELECT count(*) FROM event_blocks WHERE session_id <> ?', old)).toBe(0);
    // Sleeps until the recent session is due (an hour after it ended), not the ten-hour poll interval.
    const due = (await store.getSession(recent))!.endedAt! + 3_600_000 - Date.now();
    const idle = reports.at(-1) as { outcome: 'idle'; waitMs: number };
    expect(idle.outcome).toBe('idle');
    expect(Math.abs(idle.waitMs - due)).toBeLessThan(5_000);
  });

  it('idles when there is nothing to do, wakes for a session that ends here, and stops on store close', async () => {
    const reports: CompactionReport[] = [];
    store.startCompaction({ afterMs: 300, pollMs: 3_600_000, blockTarget: BLOCK, onReport: (r) => reports.push(r) });
    await expect.poll(() => reports.length, { timeout: 10_000 }).toBeGreaterThan(0); // the thread has started
    await new Promise((r) => setTimeout(r, 300));
    expect(reports).toEqual([{ outcome: 'idle', waitMs: 3_600_000 }]);

    const ssh = await terminalSession(50_000);
    await expect.poll(() => reports.some((r) => r.outcome === 'compacted' && r.sessionId === ssh), { timeout: 10_000 }).toBe(true);
    const compacted = await store.getSession(ssh);
    expect(store.db.prepare('SELECT compacted_at FROM sessions WHERE id = ?').pluck().get(ssh)).toBeGreaterThanOrEqual(compacted!.endedAt! + 300);
    expect(reports.at(-1)).toEqual({ outcome: 'idle', waitMs: 3_600_000 });

    const started = performance.now();
    await store.close();
    expect(performance.now() - started).toBeLessThan(2000);
    const n = reports.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(reports.length).toBe(n);
    store = new SqliteStore(file);
    recorder = new Recorder(store, keys, silentLogger);
    expect((await verifySession(store, keys.keys, ssh)).ok).toBe(true);
  });

  it.runIf(process.platform === 'linux')('runs at a lower priority than the rest of the gateway', async () => {
    const own = getPriority();
    const thread = new CompactorThread(file, { afterMs: 60_000 });
    try {
      await expect.poll(() => thread.thread, { timeout: 10_000 }).toBeDefined();
      expect(getPriority(thread.thread!.tid)).toBe(Math.max(own, 10));
      expect(getPriority()).toBe(own); // the main thread keeps its priority
    } finally {
      await thread.close();
    }
  });
});
