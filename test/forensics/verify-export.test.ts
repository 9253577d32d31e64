import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { holdCommand } from '../../src/cli/hold.ts';
import type { Io } from '../../src/cli/args.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';

let pg: PgServer;
let gw: TestGateway;
let work: string;
let config: string;
const sessions: string[] = [];

beforeAll(async () => {
  pg = await startPostgres();
  await pg.sql('CREATE TABLE items (id int primary key, name text)');
  await pg.sql("INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g");
  gw = await startGateway({ connections: { 'pg-main': pgConnection(pg) } });
  work = mkdtempSync(join(tmpdir(), 'airlock-forensics-it-'));
  config = join(work, 'airlock.yaml');
  writeFileSync(config, `dataDir: ${JSON.stringify(gw.dataDir)}\n`);
  const token = await gw.token('alice', ['dba']);
  for (const sql of ['select count(*) from items', "select name from items where id = 7; update items set name = 'x' where id = 1"]) {
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-main' }, ['-At', '-c', sql]);
    expect(r.stderr).toBe('');
  }
  for (let i = 0; i < 200 && sessions.length < 2; i++) {
    const closed = await gw.gw.store.listSessions({ open: false });
    if (closed.length >= 2) sessions.push(...closed.map((s) => s.id).reverse());
    else await new Promise((r) => setTimeout(r, 20));
  }
  expect(sessions).toHaveLength(2);
  // Sealing follows endSession: wait until both seals are in the ledger.
  for (let i = 0; i < 200; i++) {
    const head = await gw.gw.store.ledgerHead();
    if (head && head.seq >= 2) break;
    await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await main(argv, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('airlock verify / export / checkpoint on a real gateway recording', () => {
  it('publishes a checkpoint and verifies the store against it', async () => {
    const cp = await cli('checkpoint', '--config', config);
    expect(cp.code).toBe(0);
    expect(cp.out).toMatch(/checkpoint: ledger seq 2, hash [0-9a-f]{64}, signed by key [0-9a-f]{16}/);
    expect(existsSync(join(gw.dataDir, 'checkpoints', 'latest.json'))).toBe(true);

    const v = await cli('verify', '--config', config);
    expect(v.err).toBe('');
    expect(v.out).toMatch(/^verified 2 sessions, \d+ events, 3 ledger entries; against the checkpoint of .* \(ledger seq 2\)$/m);
    expect(v.out).toContain('OK: no breaks');
    expect(v.code).toBe(0);

    const json = await cli('verify', sessions[0], '--json', '--config', config);
    expect(JSON.parse(json.out)).toMatchObject({ checked: { sessions: 1 }, breaks: [] });
  });

  it('exports a bundle that verifies offline, through the real binary too', async () => {
    const file = join(work, 'evidence.jsonl');
    const ex = await cli('export', ...sessions, '--out', file, '--config', config);
    expect(ex.err).toBe('');
    expect(ex.out).toMatch(/^wrote .*evidence\.jsonl: 2 sessions, \d+ events, \d+ ledger entries/);
    expect(ex.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('update items set name');
    expect(text).not.toContain(pg.password);

    const v = await cli('verify', '--bundle', file, '--keys', join(gw.dataDir, 'keys', 'public-keys.json'));
    expect(v.out).toContain('OK: no breaks');
    expect(v.code).toBe(0);

    const bin = spawnSync(process.execPath, ['bin/airlock.js', 'verify', '--bundle', file], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') });
    expect(bin.stdout).toMatch(/^bundle .*: 2 sessions/);
    expect(bin.stdout).toContain('OK: no breaks');
    expect(bin.status).toBe(0);

    const bad = join(work, 'tampered.jsonl');
    writeFileSync(bad, text.replace("where id = 7", "where id = 8"));
    const t = await cli('verify', '--bundle', bad);
    expect(t.code).toBe(1);
    expect(t.out).toMatch(new RegExp(`^BREAK session ${sessions[1]} seq \\d+: event hash mismatch`, 'm'));
    expect(t.out).toMatch(/^BREAK bundle: line \d+: bundle digest mismatch/m);
  });

  it('names the session and seq of an event altered in the store, and exits 1', async () => {
    const db = new Database(join(gw.dataDir, 'airlock.db'));
    try {
      const row = db.prepare("SELECT seq FROM events WHERE session_id = ? AND type = 'db.query' ORDER BY seq LIMIT 1").get(sessions[0]) as { seq: number };
      db.prepare("UPDATE events SET data = json_set(data, '$.text', 'select 1') WHERE session_id = ? AND seq = ?").run(sessions[0], row.seq);
      const v = await cli('verify', '--config', config);
      expect(v.code).toBe(1);
      expect(v.out).toContain(`BREAK session ${sessions[0]} seq ${row.seq}: event hash mismatch (content altered, or event inserted)`);
      expect(v.out).toContain('1 break: the record was altered or damaged');
    } finally {
      db.close();
    }
  });

  it('places and releases a legal hold', async () => {
    const io = { out: (_l: string) => {}, err: (_l: string) => {} };
    expect(await holdCommand(['hold', sessions[1], '--config', config], io)).toBe(0);
    expect((await gw.gw.store.getSession(sessions[1]))?.legalHold).toBe(true);
    expect(await holdCommand(['unhold', sessions[1], '--config', config], io)).toBe(0);
    expect((await gw.gw.store.getSession(sessions[1]))?.legalHold).toBe(false);
    await expect(holdCommand(['hold', 'ses_nope', '--config', config], io)).rejects.toThrow(/no session ses_nope/);
  });
});
