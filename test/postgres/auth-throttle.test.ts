import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall } from '../harness/http.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';

/**
 * Token guesses on the PostgreSQL listener are slowed down like SSH password guesses, by the gateway's one
 * throttle: failures from the PostgreSQL listener, the SSH listener and the API count together per source.
 */
let server: PgServer;
let gw: TestGateway;
let apiUrl: string;

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    limits: { preAuthTimeout: '3s' },
    connections: { app: pgConnection(server, { allow: ['dba'] }) },
  });
  apiUrl = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

/** One login; resolves with how long the gateway took to answer and its error, if it refused. */
async function attempt(user: string, token: string, localAddress: string): Promise<{ ms: number; error?: string }> {
  const started = Date.now();
  try {
    const c = await RawPgClient.login(gw.pgPort, user, 'app', token, undefined, localAddress);
    c.end();
    return { ms: Date.now() - started };
  } catch (err) {
    return { ms: Date.now() - started, error: (err as Error).message };
  }
}

describe('PostgreSQL login throttling', () => {
  it('slows token guesses per source and subject, shares the count with the API, and keeps the pre-auth deadline', async () => {
    const alice = await gw.token('alice', ['dba']);
    const wrong = `${alice.slice(0, -4)}xxxx`;
    for (let i = 0; i < 5; i++) expect((await attempt('mallory', wrong, '127.0.0.1')).error).toMatch(/password authentication failed/);
    // The sixth failure waits 0.5 s; meanwhile a right token from another source logs in without waiting.
    const [guess, other] = await Promise.all([attempt('mallory', wrong, '127.0.0.1'), attempt('alice', alice, '127.0.0.2')]);
    expect(guess.error).toMatch(/password authentication failed/);
    expect(guess.ms).toBeGreaterThanOrEqual(450);
    expect(other.error).toBeUndefined();
    expect(other.ms).toBeLessThan(guess.ms);
    // The API counts with the listeners: a bad bearer token from the same source is the seventh failure (1 s).
    const started = Date.now();
    expect((await apiCall(`${apiUrl}/api/me`, { bearer: wrong })).status).toBe(401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    // A right token from the guessing source still gets in (after the 2 s wait), and that clears the source.
    const after = await attempt('alice', alice, '127.0.0.1');
    expect(after.error).toBeUndefined();
    expect(after.ms).toBeGreaterThanOrEqual(1_950);
    const again = await attempt('alice', alice, '127.0.0.1');
    expect(again.error).toBeUndefined();
    expect(again.ms).toBeLessThan(after.ms - 1_000);
    // The subject guessed at is still counted from a fresh source: 1 s, 2 s, then a wait (4 s) longer than the
    // 3 s pre-auth deadline, which ends the attempt at the deadline instead of holding the connection.
    expect((await attempt('mallory', wrong, '127.0.0.3')).ms).toBeGreaterThanOrEqual(950);
    expect((await attempt('mallory', wrong, '127.0.0.3')).ms).toBeGreaterThanOrEqual(1_950);
    const late = await attempt('mallory', wrong, '127.0.0.3');
    expect(late.error).toMatch(/not authenticated within 3s/);
    expect(late.ms).toBeGreaterThanOrEqual(2_900);
    expect(late.ms).toBeLessThan(3_900);
  }, 60_000);
});
