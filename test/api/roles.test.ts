import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { runCli } from '../harness/cli.ts';

let server: PgServer;
let gw: TestGateway;
let apiUrl: string;
const tokens: Record<string, string> = {};
let aliceSession = '';

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'], auditor: ['security'], approver: ['dba-leads'] } },
    connections: {
      app: pgConnection(server, { allow: ['dba'] }),
      jit: pgConnection(server, { allow: ['dba'], access: { requireRequest: true, approvers: ['dba-leads'], maxDuration: '2h' } }),
    },
  });
  apiUrl = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  tokens.admin = await gw.token('root', ['platform']);
  tokens.auditor = await gw.token('sam', ['security']);
  tokens.approver = await gw.token('lena', ['dba-leads']);
  tokens.user = await gw.token('alice', ['dba']);
  tokens.other = await gw.token('bob', ['dba']);
  await psql({ port: gw.pgPort, user: 'alice', password: tokens.user, database: 'app' }, ['-c', 'select 1']);
  for (let i = 0; i < 100 && !aliceSession; i++) {
    aliceSession = (await gw.gw.store.listSessions({ user: 'alice', open: false }))[0]?.id ?? '';
    if (!aliceSession) await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

async function call(who: string | undefined, method: string, path: string, body?: unknown): Promise<number> {
  const headers: Record<string, string> = {};
  if (who === 'bad') headers.authorization = 'Bearer alk_00000000000000000000000000_forged';
  else if (who) headers.authorization = `Bearer ${tokens[who]}`;
  if (body) headers['content-type'] = 'application/json';
  const res = await fetch(`${apiUrl}${path}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
  await res.arrayBuffer();
  return res.status;
}

describe('role matrix over every endpoint (deny by default)', () => {
  const who = ['none', 'bad', 'user', 'other', 'approver', 'auditor', 'admin'] as const;
  const cases: { method: string; path: () => string; body?: unknown; allowed: readonly (typeof who)[number][] }[] = [
    { method: 'GET', path: () => '/api/health', allowed: who },
    { method: 'GET', path: () => '/api/openapi.json', allowed: who },
    { method: 'GET', path: () => '/api/me', allowed: ['user', 'other', 'approver', 'auditor', 'admin'] },
    { method: 'GET', path: () => '/api/sessions', allowed: ['user', 'other', 'approver', 'auditor', 'admin'] },
    { method: 'GET', path: () => `/api/sessions/${aliceSession}`, allowed: ['user', 'auditor', 'admin'] },
    { method: 'GET', path: () => '/api/audit', allowed: ['auditor', 'admin'] },
    { method: 'GET', path: () => '/api/reviews', allowed: ['user', 'other', 'approver', 'auditor', 'admin'] },
    { method: 'GET', path: () => '/api/tokens', allowed: ['admin'] },
    { method: 'GET', path: () => '/api/events?since=1h', allowed: ['auditor', 'admin'] },
    { method: 'GET', path: () => '/api/verify', allowed: ['auditor', 'admin'] },
    { method: 'POST', path: () => '/api/tokens', body: { subject: 'x', groups: [], ttl: '1m' }, allowed: ['admin'] },
    { method: 'DELETE', path: () => '/api/tokens/doesnotexist', allowed: [] },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.path().replace(aliceSession || '\u0000', ':id')}`, async () => {
      for (const w of who) {
        const status = await call(w === 'none' ? undefined : w, c.method, c.path(), c.body);
        const expected = c.allowed.includes(w) ? [200] : w === 'none' || w === 'bad' ? [401] : c.method === 'DELETE' && w === 'admin' ? [404] : [403, 404];
        expect(expected, `${w} → ${status}`).toContain(status);
      }
    });
  }

  it('users see only their own sessions; auditors see everyone', async () => {
    const own = await (await fetch(`${apiUrl}/api/sessions`, { headers: { authorization: `Bearer ${tokens.other}` } })).json();
    expect(own.sessions).toEqual([]);
    const all = await (await fetch(`${apiUrl}/api/sessions`, { headers: { authorization: `Bearer ${tokens.auditor}` } })).json();
    expect(all.sessions.map((s: { subject: string }) => s.subject)).toContain('alice');
  });

  it('the event stream serves JSON Lines and OCSF to auditors', async () => {
    const res = await fetch(`${apiUrl}/api/events?since=1h&format=ocsf`, { headers: { authorization: `Bearer ${tokens.auditor}` } });
    expect(res.headers.get('content-type')).toContain('ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => typeof l.class_uid === 'number' && l.metadata?.product?.name === 'Airlock')).toBe(true);
    const verify = await (await fetch(`${apiUrl}/api/verify`, { headers: { authorization: `Bearer ${tokens.auditor}` } })).json();
    expect(verify.breaks).toEqual([]);
  });

  it('viewing a recording is itself recorded', async () => {
    await fetch(`${apiUrl}/api/sessions/${aliceSession}`, { headers: { authorization: `Bearer ${tokens.auditor}` } });
    const audit = await gw.gw.store.listAudit({ target: aliceSession });
    expect(audit.some((a) => a.subject === 'sam' && a.action === 'session.view')).toBe(true);
  });

  it('an unknown API route is the same 404 for everyone (it reveals nothing)', async () => {
    expect(await call('admin', 'GET', '/api/nothing-here')).toBe(404);
    expect(await call(undefined, 'GET', '/api/nothing-here')).toBe(404);
    expect(await call(undefined, 'POST', '/api/nothing-here')).toBe(403);
  });
});

describe('just-in-time access through the CLI', () => {
  it('requires an approved access request before a session starts', async () => {
    const t = { port: gw.pgPort, user: 'alice', password: tokens.user, database: 'jit' };
    const refused = await psql(t, ['-c', 'select 1']);
    expect(refused.stderr).toContain('requires an approved access request');
    const req = await runCli(['access', 'request', 'jit', '--for', '1h', '--reason', 'incident 42', '--token', tokens.user, '--url', apiUrl]);
    expect(req.code, req.err).toBe(0);
    const id = /access request (\S+)/.exec(req.out)![1];
    const self = await runCli(['reviews', 'approve', id, '--token', tokens.user, '--url', apiUrl]);
    expect(self.code).not.toBe(0);
    expect(self.err).toContain('own request');
    const list = await runCli(['reviews', 'list', '--token', tokens.approver, '--url', apiUrl]);
    expect(list.out).toContain(id);
    const ok = await runCli(['reviews', 'approve', id, '--token', tokens.approver, '--url', apiUrl]);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/approved until/);
    const r = await psql(t, ['-At', '-c', 'select 5']);
    expect(r.stdout.trim()).toBe('5');
    const tooLong = await runCli(['access', 'request', 'jit', '--for', '9h', '--reason', 'x', '--token', tokens.user, '--url', apiUrl]);
    expect(tooLong.err).toContain('at most 2h');
  });
});
