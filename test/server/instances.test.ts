import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { pgConnection } from '../harness/gateway.ts';
import { canConnect, waitFor } from '../harness/wait.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { runCli } from '../harness/cli.ts';
import { issueToken, spawnGateway, writeGatewayConfig, type GatewayFiles } from '../harness/gateway-child.ts';
import { openStore } from '../../src/store/open.ts';
import { encodeQuery } from '../../src/protocols/postgres/codec/frontend.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import type { SessionRecord, StoredEvent } from '../../src/store/types.ts';

let pg: PgServer;
let dir: string;

beforeAll(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), 'airlock-instances-'));
}, 60_000);

afterAll(async () => {
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function config(name: string, dataDir = join(dir, name)): Promise<GatewayFiles> {
  return writeGatewayConfig(dir, name, dataDir, { connections: { db: pgConnection(pg) } });
}

async function query(c: RawPgClient, sql: string): Promise<string> {
  c.socket.write(encodeQuery(sql));
  const end = await c.until('Z', 'E');
  if (end.code === 0x45) return `error: ${decodeErrorFields(end.body).M}`;
  return 'ok';
}

async function sessions(dataDir: string): Promise<{ list: SessionRecord[]; events: (id: string) => Promise<StoredEvent[]> }> {
  const store = openStore(dataDir);
  try {
    const list = await store.listSessions({});
    const all = new Map<string, StoredEvent[]>();
    for (const s of list) {
      const events: StoredEvent[] = [];
      for await (const e of store.readEvents(s.id)) events.push(e);
      all.set(s.id, events);
    }
    return { list, events: async (id) => all.get(id) ?? [] };
  } finally {
    await store.close();
  }
}

const texts = (events: StoredEvent[]) => events.filter((e) => e.type === 'db.query').map((e) => String(e.data.text));

describe('one gateway per SQLite data dir', () => {
  it('refuses a second gateway on the same data dir before it binds or recovers anything; the first keeps recording', async () => {
    const a = await config('shared');
    const b = await config('shared-b', a.dataDir);
    const first = await spawnGateway(a.config);
    const token = await issueToken(a.config, 'alice', 'dba');
    const held = await RawPgClient.login(a.pgPort, 'alice', 'db', token);
    expect(await query(held, 'select 1 as before_second')).toBe('ok');

    const second = await spawnGateway(b.config);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(/data dir .* is in use by another gateway \(instance gw_\w+, pid \d+/);
    expect(await canConnect(b.pgPort)).toBe(false);
    expect(await canConnect(b.apiPort)).toBe(false);

    // The same config started twice by mistake: refused for the data dir, not by EADDRINUSE after recovery ran.
    const twice = await spawnGateway(a.config);
    expect(await twice.exited).toBe(1);
    expect(twice.output()).toContain('is in use by another gateway');
    expect(twice.output()).not.toContain('EADDRINUSE');

    expect(await query(held, 'select 2 as after_second')).toBe('ok');
    held.socket.end();
    await held.closed;
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const { list, events } = await sessions(a.dataDir);
    expect(list).toHaveLength(1);
    expect(list[0].endReason).not.toBe('interrupted');
    expect(texts(await events(list[0].id))).toEqual(['select 1 as before_second', 'select 2 as after_second']);
    const verify = await runCli(['verify', '--config', a.config]);
    expect(verify.code, verify.out + verify.err).toBe(0);
  }, 90_000);

  it('a new gateway seals the sessions of one killed with -9 (its process is provably gone) and starts', async () => {
    const a = await config('killed');
    const first = await spawnGateway(a.config);
    const token = await issueToken(a.config, 'alice', 'dba');
    const held = await RawPgClient.login(a.pgPort, 'alice', 'db', token);
    expect(await query(held, 'select 3 as before_kill')).toBe('ok');
    await waitFor(async () => texts(await (await sessions(a.dataDir)).events((await sessions(a.dataDir)).list[0]?.id ?? '')).length === 1, {
      description: 'the statement to be written',
    });
    first.child.kill('SIGKILL');
    await first.exited;
    await held.closed;

    const next = await spawnGateway(a.config);
    expect(next.output()).toContain('sealed interrupted session');
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    const { list } = await sessions(a.dataDir);
    expect(list.map((s) => s.endReason)).toEqual(['interrupted']);
    const verify = await runCli(['verify', '--config', a.config]);
    expect(verify.code, verify.out + verify.err).toBe(0);
  }, 90_000);

  it('a write the store can never take stops the gateway: its client gets an error, and it exits 1 with the reason', async () => {
    const a = await config('zombie');
    const gw = await spawnGateway(a.config);
    const token = await issueToken(a.config, 'alice', 'dba');
    const held = await RawPgClient.login(a.pgPort, 'alice', 'db', token);
    expect(await query(held, 'select 4')).toBe('ok');
    const { list } = await sessions(a.dataDir);
    // Another writer took the session's next sequence numbers (what a second gateway's recovery once did).
    const db = new Database(join(a.dataDir, 'airlock.db'));
    const key = db.prepare('SELECT key FROM sessions WHERE id = ?').pluck().get(list[0].id);
    const insert = db.prepare("INSERT INTO events (session_id, session_key, seq, time, type, data, hash) VALUES (?, ?, ?, 0, 'x', '{}', 'x')");
    for (let seq = 0; seq < 200; seq++) {
      try {
        insert.run(list[0].id, key, seq);
      } catch {
        // taken by the gateway already
      }
    }
    db.close();
    held.socket.write(encodeQuery('select 5'));
    const code = await Promise.race([gw.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
    expect(code, gw.output()).toBe(1);
    expect(gw.output()).toContain('stopping after a failure it cannot recover from: the recording store failed and cannot recover');
    await held.closed;
    expect(await canConnect(a.pgPort)).toBe(false);
  }, 60_000);
});
