import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, pgBinDir, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';

/**
 * Reviews a person can decide: the client is told at once that its statement waits (and for whom), an
 * approval window covers only the statement the approver approved (not another value behind the same mask),
 * and an approver who is not an auditor sees what led up to the statement.
 */
const EMAIL = 'jane.roe@example.org';
const OTHER = 'john.doe@example.org';

let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql('CREATE TABLE customers (id int primary key, email text, note text)');
  await server.sql(`INSERT INTO customers VALUES (1, '${EMAIL}', ''), (2, '${OTHER}', '')`);
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { approver: ['dba-leads'], auditor: ['audit'] } },
    reviews: { timeout: '30s' },
    connections: {
      app: pgConnection(server, {
        allow: ['dba'],
        policy: { mask: { stored: ['all'] }, review: [{ name: 'updates-need-review', statements: ['update'], approvers: ['dba-leads'] }] },
      }),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const port = gw.gw.listeners.get('api')!.port;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** psql running in the background, its output readable while it waits. */
function psqlLive(token: string, ...sql: string[]) {
  const conninfo = `host=127.0.0.1 port=${gw.pgPort} dbname=app user=alice sslmode=disable`;
  const child = spawn(join(pgBinDir(), 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, ...sql.flatMap((q) => ['-c', q])], {
    env: { ...process.env, PGPASSWORD: token, PGCONNECT_TIMEOUT: '10' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { out: () => stdout, err: () => stderr, exit };
}

async function pendingOf(lead: string, requester: string): Promise<Record<string, any>> {
  return waitFor(async () => ((await api(lead, 'GET', '/api/reviews?status=pending')).json.reviews as Record<string, any>[]).find((r) => r.requester === requester), {
    description: 'a pending review',
  });
}

describe('a held statement tells the client', () => {
  it('psql prints a notice with the review id and the approvers while the statement waits', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const p = psqlLive(await gw.token('alice', ['dba']), 'UPDATE customers SET note = note WHERE id = 1');
    const review = await pendingOf(lead, 'alice');
    // Told before anyone decides.
    await waitFor(() => p.err().includes(review.id), { description: 'the notice in psql' });
    expect(p.err()).toMatch(new RegExp(`NOTICE: +Airlock: waiting for review ${review.id}: a member of dba-leads \\(not you\\) must approve it before `));
    expect(p.out()).toBe('');
    expect((await api(lead, 'POST', `/api/reviews/${review.id}/approve`, {})).status).toBe(200);
    expect(await p.exit).toBe(0);
    expect(p.out()).toContain('UPDATE 1');
  });
});

describe('approval windows', () => {
  it('cover only the exact statement approved, not another value behind the same mask', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const alice = await gw.token('alice', ['dba']);
    const sql = (email: string) => `UPDATE customers SET note = 'checked' WHERE email = '${email}'`;
    const first = psqlLive(alice, sql(EMAIL));
    const review = await pendingOf(lead, 'alice');
    // The approver sees the mask, not the address.
    expect(review.text).toContain('[EMAIL]');
    expect(review.text).not.toContain(EMAIL);
    await api(lead, 'POST', `/api/reviews/${review.id}/approve`, { for: '30m' });
    expect(await first.exit).toBe(0);

    // The very same statement passes within the window, without a review.
    const again = psqlLive(alice, sql(EMAIL));
    expect(await again.exit).toBe(0);
    expect(again.out()).toContain('UPDATE 1');
    expect(again.err()).not.toContain('waiting for review');

    // Another address masks to the same text, but is held: the approver never judged it.
    for (const variant of [sql(OTHER), sql(EMAIL.toUpperCase()), sql(EMAIL).replace('WHERE', 'where')]) {
      const other = psqlLive(alice, variant);
      const held = await pendingOf(lead, 'alice');
      expect(held.id).not.toBe(review.id);
      await api(lead, 'POST', `/api/reviews/${held.id}/deny`, { reason: 'not approved' });
      expect(await other.exit).not.toBe(0);
      expect(other.err()).toContain('not approved');
    }
    expect((await server.sql(`SELECT note FROM customers WHERE email = '${OTHER}'`)).trim()).toBe('');
  });

  it('the stored review holds no digest a masked value can be guessed from without the review id', async () => {
    const reviews = await gw.gw.store.listReviews({ kind: 'command' });
    const { createHash } = await import('node:crypto');
    const plain = createHash('sha256').update(`UPDATE customers SET note = 'checked' WHERE email = '${EMAIL}'`).digest('hex');
    expect(reviews.map((r) => r.textHash)).not.toContain(plain);
  });
});

describe('approvers see the context', () => {
  it('an approver who is not an auditor reads the statements before the held one, audited', async () => {
    const lead = await gw.token('lena', ['dba-leads']);
    const p = psqlLive(await gw.token('alice', ['dba']), "SELECT 'context-before-the-hold' AS marker", 'UPDATE customers SET note = note WHERE id = 2');
    const review = await pendingOf(lead, 'alice');
    // The session itself stays an auditor's: an approver is shown what they decide on, through the review.
    expect((await api(lead, 'GET', `/api/sessions/${review.sessionId}`)).status).toBe(404);
    const ctx = await waitFor(async () => {
      const r = await api(lead, 'GET', `/api/reviews/${review.id}/context`);
      return r.json.events?.some((e: any) => e.type === 'review.requested') ? r : undefined;
    }, { description: 'the context up to the hold' });
    expect(ctx.status).toBe(200);
    const texts = (ctx.json.events as any[]).map((e) => `${e.type} ${JSON.stringify(e.data)}`);
    const marker = texts.findIndex((t) => t.includes('context-before-the-hold'));
    const hold = texts.findIndex((t) => t.startsWith('review.requested'));
    expect(marker).toBeGreaterThanOrEqual(0);
    expect(hold).toBeGreaterThan(marker);
    expect(hold).toBe(texts.length - 1);
    const audit = await gw.gw.store.listAudit({ subject: 'lena', target: review.sessionId });
    expect(audit.find((a) => a.action === 'session.view')?.detail).toMatchObject({ review: review.id, via: 'review' });
    // Someone who may not decide it does not learn it exists.
    expect((await api(await gw.token('olga', ['dba']), 'GET', `/api/reviews/${review.id}/context`)).status).toBe(404);
    await api(lead, 'POST', `/api/reviews/${review.id}/approve`, {});
    expect(await p.exit).toBe(0);
  });
});
