import { openStore } from '../../src/store/open.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { runCli } from '../harness/cli.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { freePort } from '../harness/ports.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { canConnect, waitFor } from '../harness/wait.ts';

const ROOT = join(import.meta.dirname, '../..');
const T = { timeout: 90_000 };

let server: PgServer;
let dir: string;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE marks (id int PRIMARY KEY)');
  dir = mkdtempSync(join(tmpdir(), 'airlock-kill-'));
}, 60_000);

afterAll(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A gateway in its own process (so it can be killed with SIGKILL), with a token for `dba`. */
async function gatewayProcess(name: string, ack: 'durable' | 'async'): Promise<{ child: ChildProcess; port: number; token: string; dataDir: string; log: string }> {
  const dataDir = join(dir, name);
  const configFile = join(dir, `${name}.yaml`);
  const log = join(dir, `${name}.log`);
  const port = await freePort();
  const config = {
    dataDir,
    listen: { postgres: `127.0.0.1:${port}` },
    recording: { ack },
    connections: { app: { type: 'postgres', host: server.host, port: server.port, database: server.database, user: server.superuser, password: server.password, allow: ['dba'], allowSuperuser: true } },
  };
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
  await openStore(dataDir).close(); // the store the gateway will open (only a gateway creates one): the token goes there first
  const issued = await runCli(['tokens', 'issue', '--subject', 'alice', '--groups', 'dba', '--ttl', '1h', '--config', configFile]);
  const token = issued.out.trim().split('\n').at(-1)!;
  const child = spawn(process.execPath, [join(ROOT, 'bin/airlock.js'), 'gateway', '--config', configFile], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, AIRLOCK_LOG_LEVEL: 'warn' } });
  await waitFor(() => canConnect(port), { timeoutMs: 30_000, description: 'gateway' });
  return { child, port, token, dataDir, log };
}

/** One statement at a time: a marker counts as acknowledged once its ReadyForQuery arrived. */
async function sequential(c: RawPgClient, first: number, acked: number[], stop: { now: boolean }): Promise<void> {
  for (let id = first; !stop.now; id++) {
    c.query(`INSERT INTO marks VALUES (${id})`);
    const f = await Promise.race([c.until('Z'), c.closed.then(() => undefined)]);
    if (!f) return;
    acked.push(id);
  }
}

/** Up to `depth` statements in flight: the i-th ReadyForQuery acknowledges the i-th statement sent. */
function pipelined(c: RawPgClient, first: number, acked: number[], stop: { now: boolean }, depth = 64): Promise<void> {
  const sent: number[] = [];
  let next = first;
  const send = (n: number) => {
    for (let i = 0; i < n && !stop.now; i++) {
      sent.push(next);
      c.query(`INSERT INTO marks VALUES (${next++})`);
    }
  };
  c.onFrame = (f) => {
    if (f.code !== 0x5a) return; // 'Z'
    acked.push(sent.shift()!);
    send(1);
  };
  send(depth);
  return c.closed;
}

async function storedMarkers(dataDir: string): Promise<Set<number>> {
  const store = new SqliteStore(join(dataDir, 'airlock.db'), { writerThread: false });
  const found = new Set<number>();
  try {
    for (const s of await store.listSessions({ limit: 1000 })) {
      const queries = new Map<number, number>();
      for await (const e of store.readEvents(s.id)) {
        const text = (e.data as { text?: string }).text;
        const m = e.type === 'db.query' && text ? /INSERT INTO marks VALUES \((\d+)\)/.exec(text) : null;
        if (m) queries.set(e.seq, Number(m[1]));
        // Recorded means the statement and its result are both there.
        if (e.type === 'db.result' && queries.has((e.data as { query: number }).query)) found.add(queries.get((e.data as { query: number }).query)!);
      }
    }
  } finally {
    await store.close();
  }
  return found;
}

describe('recording.ack: durable', () => {
  it('every statement a client saw acknowledged is in the store after kill -9 of the gateway', T, async () => {
    const gw = await gatewayProcess('durable', 'durable');
    const acked: number[] = [];
    const stop = { now: false };
    const clients = await Promise.all([0, 1, 2, 3].map(() => RawPgClient.login(gw.port, 'alice', 'app', gw.token)));
    const runs = [
      sequential(clients[0], 1_000_000, acked, stop),
      sequential(clients[1], 2_000_000, acked, stop),
      pipelined(clients[2], 3_000_000, acked, stop),
      pipelined(clients[3], 4_000_000, acked, stop),
    ];
    await waitFor(() => acked.length >= 3000, { timeoutMs: 60_000, intervalMs: 20, description: 'acknowledged statements' });
    gw.child.kill('SIGKILL');
    await new Promise((r) => gw.child.once('exit', r));
    stop.now = true;
    await Promise.all(runs);

    const committed = new Set((await server.sql('SELECT id FROM marks')).trim().split('\n').filter(Boolean).map(Number));
    const stored = await storedMarkers(gw.dataDir);
    const missing = acked.filter((id) => committed.has(id) && !stored.has(id));
    expect(acked.length).toBeGreaterThan(3000);
    expect(missing).toEqual([]);
  });
});
