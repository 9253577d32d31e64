import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../harness/cli.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';

let server: PgServer;
let gw: TestGateway;
let apiUrl: string;
let doc: { paths: Record<string, Record<string, Operation>> } & Record<string, any>;
const tokens: Record<string, string> = {};
let aliceSession = '';

interface Operation {
  operationId: string;
  summary: string;
  'x-airlock-roles': string[] | 'public';
  parameters?: { name: string; in: string; required: boolean; schema: Record<string, any> }[];
  requestBody?: { content: { 'application/json': { schema: Record<string, any> } } };
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
}

const METRICS_TOKEN = 'scrape-0123456789abcdef';

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'], auditor: ['security'], approver: ['dba-leads'] } },
    metrics: { token: METRICS_TOKEN },
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
  doc = await (await fetch(`${apiUrl}/api/openapi.json`)).json();
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

type Who = 'none' | 'bad' | 'user' | 'other' | 'approver' | 'auditor' | 'admin';
const WHO: readonly Who[] = ['none', 'bad', 'user', 'other', 'approver', 'auditor', 'admin'];
const SIGNED_IN: readonly Who[] = ['user', 'other', 'approver', 'auditor', 'admin'];

async function call(who: Who | 'metrics', method: string, path: string, body?: unknown, raw?: string): Promise<{ status: number; json: any }> {
  const bearer = who === 'bad' ? 'alk_00000000000000000000000000_forged' : who === 'metrics' ? METRICS_TOKEN : who === 'none' ? undefined : tokens[who];
  return apiCall(`${apiUrl}${path}`, { method, bearer, body, raw });
}

/**
 * Every route of the OpenAPI document needs an entry here: a new route without one fails the test.
 * `allowed` gets the route's success status (default 200); `status` overrides it per caller (visibility rules,
 * objects that do not exist); everyone else gets 401 (no or bad credential) or 403 (role missing).
 */
interface Entry {
  readonly path?: () => string;
  readonly body?: () => unknown;
  readonly allowed: readonly Who[];
  readonly ok?: number;
  readonly status?: Partial<Record<Who, number>>;
}
const sessionPath = (suffix = '') => () => `/api/sessions/${aliceSession}${suffix}`;
const ownerOnly = { other: 404, approver: 404 } as const;
const MATRIX: Record<string, Entry> = {
  'GET /api/health': { allowed: WHO },
  'GET /healthz': { allowed: WHO },
  'GET /readyz': { allowed: WHO },
  'GET /api/openapi.json': { allowed: WHO },
  'GET /api/auth/providers': { allowed: WHO },
  'POST /api/web-session': { allowed: WHO, body: () => ({ token: tokens.user }) },
  'POST /api/web-session/logout': { allowed: SIGNED_IN, ok: 204 },
  'GET /api/me': { allowed: SIGNED_IN },
  'GET /metrics': { allowed: ['admin'] },
  'GET /api/sessions': { allowed: SIGNED_IN },
  'GET /api/sessions/{id}': { allowed: SIGNED_IN, path: sessionPath(), status: ownerOnly },
  'GET /api/sessions/{id}/events': { allowed: SIGNED_IN, path: sessionPath('/events'), status: ownerOnly },
  'GET /api/sessions/{id}/live': { allowed: SIGNED_IN, path: sessionPath('/live'), status: ownerOnly },
  'GET /api/sessions/{id}/verify': { allowed: SIGNED_IN, path: sessionPath('/verify'), status: ownerOnly },
  'GET /api/sessions/{id}/export': { allowed: ['auditor', 'admin'], path: sessionPath('/export') },
  'GET /api/audit': { allowed: ['auditor', 'admin'] },
  'GET /api/connections': { allowed: SIGNED_IN },
  'GET /api/reviews': { allowed: SIGNED_IN },
  'GET /api/reviews/live': { allowed: SIGNED_IN },
  'GET /api/reviews/{id}/context': { allowed: SIGNED_IN, path: () => '/api/reviews/rev_missing/context', ok: 404 },
  'POST /api/reviews/{id}/approve': { allowed: SIGNED_IN, path: () => '/api/reviews/rev_missing/approve', body: () => ({}), ok: 404 },
  'POST /api/reviews/{id}/deny': { allowed: SIGNED_IN, path: () => '/api/reviews/rev_missing/deny', body: () => ({ reason: 'no' }), ok: 404 },
  // Only members of the connection's groups may ask; the approver is not one.
  'POST /api/access-requests': { allowed: SIGNED_IN, body: () => ({ connection: 'jit', for: '1h', reason: 'matrix' }), status: { approver: 403, auditor: 403, admin: 403 } },
  'GET /api/tokens': { allowed: ['admin'] },
  'POST /api/tokens': { allowed: ['admin'], body: () => ({ subject: 'x', groups: [], ttl: '1m' }) },
  'DELETE /api/tokens/{id}': { allowed: ['admin'], path: () => '/api/tokens/tok_missing', ok: 404 },
  // The session has ended: nothing left to terminate.
  'POST /api/sessions/{id}/terminate': { allowed: ['admin'], path: sessionPath('/terminate'), body: () => ({}), ok: 409 },
  'POST /api/sessions/{id}/hold': { allowed: ['admin'], path: sessionPath('/hold'), body: () => ({ hold: false }) },
  'GET /api/locks': { allowed: ['admin'] },
  'POST /api/locks': { allowed: ['admin'], body: () => ({ subject: 'matrix-nobody', ttl: '1m' }) },
  'DELETE /api/locks/{id}': { allowed: ['admin'], path: () => '/api/locks/lock_missing', ok: 404 },
  'GET /api/events': { allowed: ['auditor', 'admin'], path: () => '/api/events?since=1h' },
  'GET /api/verify': { allowed: ['auditor', 'admin'] },
  // The web console's static files and history routes are public; its data comes from the API above.
  'GET /': { allowed: WHO },
  'GET /assets/{file}': { allowed: WHO, path: () => '/assets/missing.js', ok: 404 },
  'GET /{wildcard}': { allowed: WHO, path: () => '/sessions' },
};

function operations(): { key: string; method: string; path: string; op: Operation }[] {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path, op })));
}

describe('OpenAPI document', () => {
  it('is OpenAPI 3.1 in shape: operations, parameters, bodies, responses, security', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const ids = new Set<string>();
    for (const { key, path, op } of operations()) {
      expect(path, key).toMatch(/^\//);
      expect(ids.has(op.operationId), `${key}: operationId unique`).toBe(false);
      ids.add(op.operationId);
      expect(op.summary.length, `${key}: described`).toBeGreaterThan(3);
      expect(op.responses['200'] ?? op.responses['204'], key).toBeDefined();
      for (const r of Object.values(op.responses)) expect(typeof r.description, key).toBe('string');
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(inPath.map((p) => p.name).sort(), `${key}: path parameters`).toEqual(templated.sort());
      for (const p of op.parameters ?? []) {
        expect(['path', 'query', 'header', 'cookie'], key).toContain(p.in);
        expect(typeof p.schema, `${key} ${p.name}`).toBe('object');
        if (p.in === 'path') expect(p.required, `${key} ${p.name}`).toBe(true);
      }
      if (op['x-airlock-roles'] !== 'public') {
        expect(op.responses['401'], key).toBeDefined();
        expect(op.responses['403'], key).toBeDefined();
        expect(doc.components.securitySchemes).toHaveProperty('bearer');
      }
    }
    expect(JSON.stringify(doc)).not.toMatch(/"\$ref":"#\/components\/schemas\/(?!Error")/);
    expect(doc.paths['/api/sessions'].get.parameters!.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['search', 'user', 'group', 'connection', 'protocol', 'outcome', 'since', 'until', 'open', 'limit', 'cursor']),
    );
    expect(doc.paths['/api/tokens'].post.requestBody!.content['application/json'].schema.required).toEqual(['subject']);
    expect(doc.paths['/api/sessions/{id}/live'].get.responses['200'].content).toHaveProperty('text/event-stream');
  });

  it('lists every route the server registered, and nothing else', () => {
    const api = (gw.gw as unknown as { api: FastifyInstance }).api;
    for (const { method, path } of operations()) {
      const url = path.replace(/\{wildcard\}$/, '*').replace(/\{(\w+)\}/g, ':$1');
      expect(api.hasRoute({ method, url }), `${method} ${url}`).toBe(true);
    }
    // printRoutes shows each registered method; count them against the document (HEAD is implied by GET).
    const printed = api.printRoutes({ commonPrefix: false, includeHooks: false });
    const registered = [...printed.matchAll(/\(([A-Z, ]+)\)/g)].flatMap((m) => m[1].split(', ')).filter((m) => m !== 'HEAD');
    expect(operations().length).toBe(registered.length);
  });

  it('has a role-matrix entry for every route (add one with each new route)', () => {
    const missing = operations().map((o) => o.key).filter((k) => !MATRIX[k]);
    expect(missing).toEqual([]);
    const stale = Object.keys(MATRIX).filter((k) => !operations().some((o) => o.key === k));
    expect(stale).toEqual([]);
  });
});

describe('role matrix over every route (deny by default)', () => {
  it('gives each caller exactly what its roles allow', async () => {
    const failures: string[] = [];
    for (const { key, method, path } of operations()) {
      const e = MATRIX[key];
      if (!e) continue;
      for (const w of WHO) {
        const expected = e.status?.[w] ?? (e.allowed.includes(w) ? (e.ok ?? 200) : w === 'none' || w === 'bad' ? 401 : 403);
        const { status } = await call(w, method, e.path?.() ?? path, e.body?.());
        if (status !== expected) failures.push(`${key} as ${w}: ${status}, expected ${expected}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('lets a scraper read /metrics with the configured token, and nothing else with it', async () => {
    expect((await call('metrics', 'GET', '/metrics')).status).toBe(200);
    expect((await call('metrics', 'GET', '/api/me')).status).toBe(401);
    expect((await call('metrics', 'GET', '/api/sessions')).status).toBe(401);
  });

  it('users see only their own sessions; auditors see everyone', async () => {
    expect((await call('other', 'GET', '/api/sessions')).json.sessions).toEqual([]);
    expect((await call('auditor', 'GET', '/api/sessions')).json.sessions.map((s: { subject: string }) => s.subject)).toContain('alice');
  });

  it('the event stream serves JSON Lines and OCSF to auditors', async () => {
    const res = await fetch(`${apiUrl}/api/events?since=1h&format=ocsf`, { headers: { authorization: `Bearer ${tokens.auditor}` } });
    expect(res.headers.get('content-type')).toContain('ndjson');
    const lines = (await res.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => typeof l.class_uid === 'number' && l.metadata?.product?.name === 'Airlock')).toBe(true);
    expect((await call('auditor', 'GET', '/api/verify')).json.breaks).toEqual([]);
  });

  it('viewing a recording is itself recorded', async () => {
    await call('auditor', 'GET', `/api/sessions/${aliceSession}`);
    const audit = await gw.gw.store.listAudit({ target: aliceSession });
    expect(audit.some((a) => a.subject === 'sam' && a.action === 'session.view')).toBe(true);
  });

  it('an unknown API route is the same 404 for everyone (it reveals nothing)', async () => {
    expect((await call('admin', 'GET', '/api/nothing-here')).status).toBe(404);
    expect((await call('none', 'GET', '/api/nothing-here')).status).toBe(404);
    expect((await call('none', 'POST', '/api/nothing-here')).status).toBe(403);
  });
});

/** Values that break a JSON Schema: the wrong type, out of range, not in the enum, not matching the pattern. */
function badValues(schema: Record<string, any>): unknown[] {
  const out: unknown[] = [];
  const type = schema.type;
  if (schema.enum) out.push('not-one-of-them');
  if (type === 'integer' || type === 'number') {
    out.push('ten');
    if (type === 'integer') out.push(1.5);
    if (schema.minimum !== undefined) out.push(schema.minimum - 1);
    if (schema.maximum !== undefined) out.push(schema.maximum + 1);
  }
  if (type === 'boolean') out.push('maybe');
  if (type === 'string') {
    if (schema.pattern) out.push('no such shape!');
    if (schema.maxLength) out.push('x'.repeat(schema.maxLength + 1));
    if (schema.minLength) out.push('');
    out.push({ an: 'object' });
  }
  if (type === 'array') out.push('not-an-array', [{ nested: true }]);
  return out;
}

describe('bad input is a 400 with a reason, never a 500', () => {
  it('every declared parameter and body field refuses values outside its schema', async () => {
    const failures: string[] = [];
    const check = async (label: string, method: string, path: string, body?: unknown, raw?: string) => {
      const r = await call('admin', method, path, body, raw);
      if (r.status !== 400 || r.json?.error !== 'AIRLOCK_ERR_USAGE' || !(r.json?.message?.length > 5)) failures.push(`${label}: ${r.status} ${JSON.stringify(r.json)}`);
    };
    for (const { key, method, path, op } of operations()) {
      const e = MATRIX[key];
      const base = (e?.path?.() ?? path).split('?')[0];
      for (const p of op.parameters ?? []) {
        if (!p.schema.type && !p.schema.enum) continue;
        for (const v of badValues(p.schema)) {
          if (p.in === 'query') {
            if (typeof v === 'object') continue; // a query string holds only text
            await check(`${key} ?${p.name}=${String(v).slice(0, 20)}`, method, `${base}?${p.name}=${encodeURIComponent(String(v))}`, e?.body?.());
          } else if (p.in === 'path' && p.schema.pattern && typeof v === 'string' && v) {
            await check(`${key} {${p.name}}=${v.slice(0, 20)}`, method, path.replace(`{${p.name}}`, encodeURIComponent(v)), e?.body?.());
          }
        }
      }
      const schema = op.requestBody?.content['application/json'].schema;
      if (!schema) continue;
      const good = (e?.body?.() ?? {}) as Record<string, unknown>;
      await check(`${key} invalid JSON`, method, base, undefined, '{"unclosed": ');
      await check(`${key} not an object`, method, base, undefined, '[1,2]');
      if (schema.additionalProperties === false) await check(`${key} unknown field`, method, base, { ...good, surprise: 1 });
      for (const name of schema.required ?? []) {
        const { [name]: _dropped, ...rest } = good;
        await check(`${key} without ${name}`, method, base, rest);
      }
      for (const [name, s] of Object.entries<Record<string, any>>(schema.properties ?? {})) {
        for (const v of badValues(s)) await check(`${key} ${name}=${JSON.stringify(v).slice(0, 20)}`, method, base, { ...good, [name]: v });
      }
    }
    expect(failures).toEqual([]);
  });

  it('refuses input that parses but means nothing, with the reason', async () => {
    const cases: [string, string, unknown?][] = [
      ['GET', '/api/sessions?since=last-tuesday'],
      ['GET', '/api/sessions?until=soon'],
      ['GET', '/api/sessions?cursor=bm9wZQ'],
      ['GET', '/api/events?since=whenever'],
      ['POST', '/api/reviews/rev_x/deny', {}],
      ['POST', '/api/access-requests', { connection: 'jit', for: '9h', reason: 'too long' }],
    ];
    for (const [method, path, body] of cases) {
      const r = await call(method === 'POST' && path.includes('access') ? 'user' : 'admin', method, path, body);
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.json.message, `${method} ${path}`).toMatch(/\w{3,}/);
    }
    expect((await call('admin', 'GET', `/api/sessions/${aliceSession}/events?from=999999`)).json).toEqual({ events: [], next: null });
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
