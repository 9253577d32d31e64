import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { gatewayClient } from '../ssh/helpers.ts';

/** A browser session's token: console and API only, never longer-lived than the credential it came from, dying with it. */
let pg: PgServer;
let gw: TestGateway;
let api: string;

beforeAll(async () => {
  pg = await startPostgres();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', ssh: '127.0.0.1:0', api: '127.0.0.1:0' },
    connections: { app: pgConnection(pg, { allow: ['dba'] }), box: { type: 'ssh', host: '127.0.0.1', port: 1, user: 'x', password: 'x', allow: ['dba'] } },
  });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
});

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

/** Exchanges `token` for a web session; returns the cookie and the session's own token. */
async function exchange(token: string): Promise<{ status: number; cookie: string; sessionToken: string; maxAge: number }> {
  const r = await apiCall(`${api}/api/web-session`, { method: 'POST', body: { token } });
  const setCookie = r.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0];
  return { status: r.status, cookie, sessionToken: cookie.slice(cookie.indexOf('=') + 1), maxAge: Number(/Max-Age=(\d+)/.exec(setCookie)?.[1] ?? -1) };
}

const me = (cookie: string) => apiCall(`${api}/api/me`, { headers: { cookie } });

describe('web session from a pasted token', () => {
  it('ends no later than the token it came from', async () => {
    const parent = await gw.token('alice', ['dba'], { ttlMs: 2_000 });
    const s = await exchange(parent);
    expect(s.status).toBe(200);
    expect(s.maxAge).toBeLessThanOrEqual(2);
    const [record] = (await gw.gw.store.listTokens()).filter((t) => s.sessionToken.includes(t.id));
    const parentRecord = (await gw.gw.store.listTokens()).find((t) => parent.includes(t.id))!;
    expect(record).toMatchObject({ parentId: parentRecord.id, scope: 'console' });
    expect(record.expiresAt).toBeLessThanOrEqual(parentRecord.expiresAt);
    expect((await me(s.cookie)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await me(s.cookie)).status).toBe(401);
  });

  it('ends when the token it came from is revoked', async () => {
    const parent = await gw.token('alice', ['dba']);
    const s = await exchange(parent);
    expect((await me(s.cookie)).status).toBe(200);
    const parentId = (await gw.gw.store.listTokens()).find((t) => parent.includes(t.id))!.id;
    await gw.gw.tokens.revoke(parentId);
    const after = await me(s.cookie);
    expect(after.status).toBe(401);
    expect(after.json.message).toMatch(/revoked/);
    expect((await apiCall(`${api}/api/me`, { bearer: s.sessionToken })).status).toBe(401);
  });

  it('its open event streams end when the token it came from is revoked', async () => {
    const parent = await gw.token('alice', ['dba']);
    const s = await exchange(parent);
    const res = await fetch(`${api}/api/reviews/live`, { headers: { cookie: s.cookie } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    await gw.gw.tokens.revoke((await gw.gw.store.listTokens()).find((t) => parent.includes(t.id))!.id);
    const started = Date.now();
    for (let r = await reader.read(); !r.done; r = await reader.read());
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('cannot be exchanged again', async () => {
    const s = await exchange(await gw.token('alice', ['dba']));
    const again = await exchange(s.sessionToken);
    expect(again.status).toBe(401);
    expect(again.cookie).toBe('');
  });

  it('is refused as a database password (psql)', async () => {
    const s = await exchange(await gw.token('alice', ['dba']));
    const r = await psql({ port: gw.pgPort, user: 'alice', password: s.sessionToken, database: 'app' }, ['-c', 'select 1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/password authentication failed for user "alice": this is a browser session's token, valid only for the web console and API/);
  });

  it('is refused as an SSH password', async () => {
    const s = await exchange(await gw.token('alice', ['dba']));
    await expect(gatewayClient(gw.sshPort, 'alice+box', { password: s.sessionToken })).rejects.toThrow(/authentication methods failed/);
  });

  it('the token it came from still works where it came from', async () => {
    const parent = await gw.token('alice', ['dba']);
    const s = await exchange(parent);
    await apiCall(`${api}/api/web-session/logout`, { method: 'POST', headers: { cookie: s.cookie } });
    const r = await psql({ port: gw.pgPort, user: 'alice', password: parent, database: 'app' }, ['-At', '-c', 'select 1']);
    expect(r.stdout.trim()).toBe('1');
  });
});
