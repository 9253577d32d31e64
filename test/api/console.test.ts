import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { freePort } from '../harness/ports.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';

let server: PgServer;
let gw: TestGateway;
let api: string;
const tokens: Record<string, string> = {};
const aliceSessions: string[] = [];
let tmp: string;

function get(who: string | undefined, path: string, headers: Record<string, string> = {}) {
  return apiCall(`${api}${path}`, { bearer: who ? tokens[who] : undefined, headers });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'airlock-console-'));
  server = await startPostgres();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'], auditor: ['security'], approver: ['dba-leads'] } },
    connections: {
      app: pgConnection(server, { allow: ['dba'] }),
      jit: pgConnection(server, { allow: ['dba'], access: { requireRequest: true, approvers: ['dba-leads'], maxDuration: '2h' } }),
      // Nothing listens there: the probe must say so.
      gone: { type: 'postgres', host: '127.0.0.1', port: await freePort(), database: 'x', user: 'x', allow: ['ops'] },
    },
  });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  tokens.admin = await gw.token('root', ['platform']);
  tokens.auditor = await gw.token('sam', ['security']);
  tokens.alice = await gw.token('alice', ['dba']);
  tokens.bob = await gw.token('bob', ['dba']);
  for (let i = 0; i < 3; i++) {
    const r = await psql({ port: gw.pgPort, user: 'alice', password: tokens.alice, database: 'app' }, ['-c', `select ${i} as round_${i}`, '-c', 'select 2']);
    expect(r.code, r.stderr).toBe(0);
  }
  for (let i = 0; i < 100 && aliceSessions.length < 3; i++) {
    const closed = await gw.gw.store.listSessions({ user: 'alice', open: false });
    if (closed.length >= 3) aliceSessions.push(...closed.map((s) => s.id));
    else await new Promise((r) => setTimeout(r, 20));
  }
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('browser sign-in', () => {
  it('lists the providers of this gateway to anyone', async () => {
    const r = await get(undefined, '/api/auth/providers');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ token: true, oidc: null, saml: null });
  });

  it('exchanges a pasted token for a cookie session of its own, and signing out revokes only that', async () => {
    const bad = await fetch(`${api}/api/web-session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'alk_nope' }) });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();

    const res = await fetch(`${api}/api/web-session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: tokens.alice }) });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.me).toMatchObject({ subject: 'alice', groups: ['dba'], roles: ['user'] });
    const setCookie = res.headers.get('set-cookie')!;
    expect(setCookie).toMatch(/^airlock_session=[^;]+; HttpOnly; SameSite=Strict; Path=\//);
    const cookie = setCookie.split(';')[0];
    expect(cookie).not.toContain(tokens.alice);

    expect((await get(undefined, '/api/me', { cookie })).json.subject).toBe('alice');
    const out = await fetch(`${api}/api/web-session/logout`, { method: 'POST', headers: { cookie } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^airlock_session=; .*Max-Age=0/);
    expect((await get(undefined, '/api/me', { cookie })).status).toBe(401);
    expect((await get('alice', '/api/me')).status).toBe(200);
  });
});

describe('sessions', () => {
  it('pages the list with a cursor, newest first, each session once, marked live or not', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await get('alice', `/api/sessions?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(r.status).toBe(200);
      expect(r.json.sessions.length).toBeLessThanOrEqual(2);
      for (const s of r.json.sessions) expect(s.live).toBe(false);
      seen.push(...r.json.sessions.map((s: { id: string }) => s.id));
      cursor = r.json.next;
      pages++;
    } while (cursor && pages < 10);
    expect(pages).toBe(2);
    expect(seen).toEqual([...aliceSessions].sort().reverse());
    expect((await get('bob', '/api/sessions')).json).toEqual({ sessions: [], next: null });
    expect((await get('alice', '/api/sessions?open=true')).json.sessions).toEqual([]);
    expect((await get('auditor', '/api/sessions?user=alice&open=false&limit=500')).json.sessions).toHaveLength(3);
  });

  it('pages search hits with a cursor', async () => {
    const first = await get('alice', '/api/sessions?search=round_1&limit=1');
    expect(first.json.hits).toHaveLength(1);
    expect(first.json.hits[0].snippet).toContain('round_1');
    const all = new Set<string>();
    let cursor: string | null = null;
    let n = 0;
    do {
      const r = await get('alice', `/api/sessions?search=select&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const h of r.json.hits) {
        expect(all.has(`${h.sessionId}:${h.seq}`)).toBe(false);
        all.add(`${h.sessionId}:${h.seq}`);
      }
      cursor = r.json.next;
    } while (cursor && ++n < 20);
    expect(all.size).toBe(6);
  });

  it('refuses bad list input with a reason', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=ten', 'open=maybe', 'since=yesterday-ish', 'cursor=%%%', 'cursor=eyJ0IjoiYSJ9', 'outcome=fine']) {
      const r = await get('alice', `/api/sessions?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.error, q).toBe('AIRLOCK_ERR_USAGE');
      expect(r.json.message.length, q).toBeGreaterThan(5);
    }
  });

  it('reads events page by page, and only for those who may see the session', async () => {
    const id = aliceSessions[0];
    const session = (await get('alice', `/api/sessions/${id}`)).json.session;
    const seqs: number[] = [];
    let from: number | null = 0;
    while (from !== null) {
      const r = await get('alice', `/api/sessions/${id}/events?from=${from}&limit=2`);
      expect(r.status).toBe(200);
      expect(r.json.events.length).toBeLessThanOrEqual(2);
      seqs.push(...r.json.events.map((e: { seq: number }) => e.seq));
      for (const e of r.json.events) expect(e).not.toHaveProperty('dataJson');
      from = r.json.next;
    }
    expect(seqs).toEqual([...Array(session.eventCount).keys()]);
    expect((await get('bob', `/api/sessions/${id}/events`)).status).toBe(404);
    expect((await get('auditor', `/api/sessions/${id}/events?limit=1`)).json.next).toBe(1);
    expect((await get('alice', `/api/sessions/${id}/events?from=-1`)).status).toBe(400);
    expect((await get('alice', '/api/sessions/not%20an%20id/events')).status).toBe(400);
    const audit = await gw.gw.store.listAudit({ target: id });
    expect(audit.filter((a) => a.action === 'session.view' && a.subject === 'sam')).toHaveLength(1);
  });

  it('verifies one session: chain, record and seal', async () => {
    const id = aliceSessions[1];
    const r = await get('alice', `/api/sessions/${id}/verify`);
    expect(r.status).toBe(200);
    const s = (await gw.gw.store.getSession(id))!;
    const seal = (await gw.gw.store.findSeal(id))!;
    expect(r.json).toEqual({
      sessionId: id, ok: true, sealed: true, events: s.eventCount, breaks: [],
      checked: { sealSeq: seal.seq, tree: { size: expect.any(Number), rootHash: expect.stringMatching(/^[0-9a-f]{64}$/) } },
    });
    expect((await get('bob', `/api/sessions/${id}/verify`)).status).toBe(404);
  });

  it('exports a session as an evidence bundle that verifies offline (auditors and admins)', async () => {
    const id = aliceSessions[2];
    expect((await get('alice', `/api/sessions/${id}/export`)).status).toBe(403);
    const r = await get('auditor', `/api/sessions/${id}/export`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toContain(`airlock-${id}`);
    const file = join(tmp, 'bundle.jsonl');
    writeFileSync(file, r.text);
    const v = await runCli(['verify', '--bundle', file]);
    expect(v.code, v.out + v.err).toBe(0);
    const tampered = join(tmp, 'tampered.jsonl');
    const altered = r.text.replace('select 2', 'select 3');
    expect(altered).not.toBe(r.text);
    writeFileSync(tampered, altered);
    expect((await runCli(['verify', '--bundle', tampered])).code).not.toBe(0);
    expect((await gw.gw.store.listAudit({ target: id })).some((a) => a.action === 'session.export' && a.subject === 'sam')).toBe(true);
  });
});

describe('connections', () => {
  it('shows users the connections they may use and auditors all, with reachability and open sessions', async () => {
    const mine = (await get('alice', '/api/connections')).json.connections;
    expect(mine.map((c: { name: string }) => c.name).sort()).toEqual(['app', 'jit']);
    expect(mine.find((c: { name: string }) => c.name === 'jit')).toMatchObject({ type: 'postgres', allowed: true, requiresRequest: true, openSessions: 0 });
    let all: { name: string; status: string; allowed: boolean; checkedAt: number | null }[] = [];
    for (let i = 0; i < 50; i++) {
      all = (await get('auditor', '/api/connections')).json.connections;
      if (all.every((c) => c.status !== 'unknown')) break;
    }
    expect(Object.fromEntries(all.map((c) => [c.name, [c.status, c.allowed]]))).toEqual({ app: ['up', false], jit: ['up', false], gone: ['down', false] });
    expect(all.every((c) => typeof c.checkedAt === 'number')).toBe(true);
    expect(JSON.stringify(all)).not.toContain(server.password);
  });
});
