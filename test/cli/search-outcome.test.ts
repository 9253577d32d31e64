import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

let server: PgServer;
let gw: TestGateway;
let api: string;
let admin: string;
let cfg: string;
let dropper = '';
let reader = '';

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'] } },
    connections: { app: pgConnection(server, { policy: { deny: [{ name: 'no-drops', statements: ['drop_table'] }] } }) },
  });
  cfg = join(gw.dataDir, 'airlock.yaml');
  writeFileSync(cfg, `dataDir: ${gw.dataDir}\n`);
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  admin = await gw.token('root', ['platform']);
  const alice = { port: gw.pgPort, user: 'alice', password: await gw.token('alice', ['dba']), database: 'app' };
  const bob = { port: gw.pgPort, user: 'bob', password: await gw.token('bob', ['dba']), database: 'app' };
  // The same denied statement five times in one session, each its own execution.
  await psql(alice, ['-v', 'ON_ERROR_STOP=0'], { input: 'select 1;\n' + 'drop table audit_log;\n'.repeat(5) });
  await psql(bob, ['-c', 'select 2']);
  for (let i = 0; i < 200 && (!dropper || !reader); i++) {
    const done = await gw.gw.store.listSessions({ open: false });
    dropper = done.find((s) => s.subject === 'alice')?.id ?? '';
    reader = done.find((s) => s.subject === 'bob')?.id ?? '';
    if (!dropper || !reader) await new Promise((r) => setTimeout(r, 25));
  }
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

describe('finding what happened', () => {
  it('search finds every execution of a repeated statement, each with its own seq', async () => {
    const r = await runCli(['sessions', 'list', '--search', 'drop table audit_log', '--outcome', 'denied', '--json', '--config', cfg]);
    expect(r.code, r.err).toBe(0);
    const hits = JSON.parse(r.out) as { sessionId: string; seq: number }[];
    expect(hits).toHaveLength(5);
    expect(new Set(hits.map((h) => h.seq)).size).toBe(5);
    expect(hits.every((h) => h.sessionId === dropper)).toBe(true);
    const viaApi = await apiCall(`${api}/api/sessions?search=${encodeURIComponent('audit_log')}&outcome=denied`, { bearer: admin });
    expect((viaApi.json as { hits: unknown[] }).hits).toHaveLength(5);
  });

  it('--outcome filters sessions without --search, in the CLI and the API', async () => {
    const r = await runCli(['sessions', 'list', '--outcome', 'denied', '--json', '--config', cfg]);
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as { id: string }[]).map((s) => s.id)).toEqual([dropper]);
    const allowed = await runCli(['sessions', 'list', '--outcome', 'allowed', '--json', '--config', cfg]);
    expect((JSON.parse(allowed.out) as { id: string }[]).map((s) => s.id).sort()).toEqual([dropper, reader].sort());
    const viaApi = await apiCall(`${api}/api/sessions?outcome=denied`, { bearer: admin });
    expect(viaApi.status).toBe(200);
    expect((viaApi.json as { sessions: { id: string }[] }).sessions.map((s) => s.id)).toEqual([dropper]);
  });

  it('the CLI refuses what the API refuses, as a usage error', async () => {
    expect((await apiCall(`${api}/api/sessions?outcome=denid`, { bearer: admin })).status).toBe(400);
    for (const args of [['--outcome', 'denid'], ['--limit', 'abc'], ['--limit', '0'], ['--since', 'yesterday-ish']]) {
      const r = await runCli(['sessions', 'list', ...args, '--config', cfg]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err.split('\n')).toHaveLength(1);
    }
  });

  it('verify of an unknown session says "no such session" (exit 4), not tampering', async () => {
    const r = await runCli(['verify', 'ses_nope', '--config', cfg]);
    expect(r.code).toBe(4);
    expect(r.err).toContain('no such session: ses_nope');
    expect(r.out).not.toContain('BREAK');
    expect((await runCli(['verify', dropper, '--config', cfg])).code).toBe(0);
  });

  it('the API\'s refusals keep their kind in the exit status: bad credentials 3, not found 4', async () => {
    const bad = await runCli(['whoami', '--token', 'alk_not_a_token', '--url', api]);
    expect(bad.code, bad.err).toBe(3);
    const missing = await runCli(['reviews', 'deny', 'rev_nope', '--reason', 'no', '--token', admin, '--url', api]);
    expect(missing.code, missing.err).toBe(4);
  });
});
