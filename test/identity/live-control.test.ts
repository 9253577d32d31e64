/**
 * Revocation, locks and terminate requests end live sessions on every protocol within seconds, through the real
 * clients (psql, OpenSSH, an ssh2 client with a token password), with the change made by the CLI as a child
 * process on the data dir or through the API: the gateway reads them from the store.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { pgBinDir, run, startPostgres, type PgServer } from '../harness/postgres.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { waitFor } from '../harness/wait.ts';
import { collect, gatewayClient, makeClientKey, registerKey, ssh, sshConnection, type ClientKey } from '../ssh/helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
let pg: PgServer;
let sshd: SshdServer;
let gw: TestGateway;
let api: string;
let cfg: string;
let adminToken: string;
let key: ClientKey;

beforeAll(async () => {
  [pg, sshd] = await Promise.all([startPostgres(), startSshd()]);
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', ssh: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'] } },
    connections: { app: pgConnection(pg, { allow: ['dba'] }), box: await sshConnection(sshd, { allow: ['dba'] }) },
  });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  cfg = join(gw.dataDir, 'airlock.yaml');
  writeFileSync(cfg, `dataDir: ${gw.dataDir}\n`);
  adminToken = await gw.token('root', ['platform']);
  key = await makeClientKey('carol');
  await registerKey(gw.gw.store, key, 'carol', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([pg?.stop(), sshd?.stop(), key?.remove()]);
});

const cli = (...args: string[]) => run(process.execPath, [BIN, ...args, '--config', cfg]);
const tokenId = (token: string) => token.slice(4, 30);

/** An interactive psql kept open; `query` sends a line and waits for its answer or the end. */
function openPsql(user: string, password: string): { proc: ChildProcessWithoutNullStreams; out: () => string; exited: Promise<number | null> } {
  const conninfo = `host=127.0.0.1 port=${gw.pgPort} dbname=app user=${user} sslmode=disable`;
  const proc = spawn(join(pgBinDir(), 'psql'), ['-X', '-At', '-d', conninfo], { env: { ...process.env, PGPASSWORD: password } });
  let text = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (text += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (text += d));
  // 'close', not 'exit': output may still be on its way when the process has exited.
  const exited = new Promise<number | null>((resolve) => proc.once('close', resolve));
  return { proc, out: () => text, exited };
}

/** The live session of `subject` on `protocol`, once recorded. */
async function liveSession(subject: string, protocol: string): Promise<string> {
  return waitFor(async () => (await gw.gw.store.listSessions({ user: subject, protocol, open: true }))[0]?.id, { timeoutMs: 10_000, description: `a live ${protocol} session of ${subject}` });
}

async function endReason(id: string): Promise<string> {
  return waitFor(async () => (await gw.gw.store.getSession(id))?.endReason ?? undefined, { timeoutMs: 10_000, description: `session ${id} to end` });
}

/** psql is told at its next statement; the session ended before that, within the poll interval. */
async function expectPsqlEnded(p: ReturnType<typeof openPsql>, id: string, message: RegExp): Promise<string> {
  const reason = await endReason(id);
  p.proc.stdin.write('select 2;\n');
  p.proc.stdin.end();
  await p.exited;
  expect(p.out()).toMatch(message);
  return reason;
}

describe('revoking a token ends its live sessions', () => {
  it('psql: revoked with the CLI (a child process on the data dir) within seconds, the client told why', async () => {
    const token = await gw.token('alice', ['dba']);
    const p = openPsql('alice', token);
    p.proc.stdin.write('select 41+1;\n');
    await waitFor(() => p.out().includes('42') || undefined, { timeoutMs: 10_000, description: 'psql to answer' });
    const id = await liveSession('alice', 'postgres');
    const r = await cli('tokens', 'revoke', tokenId(token));
    expect(r.code, r.stderr).toBe(0);
    // Within seconds of the revocation reaching the store (the child process itself takes a while to start).
    const revokedAt = (await gw.gw.store.getToken(tokenId(token)))!.revokedAt!;
    await endReason(id);
    expect((await gw.gw.store.getSession(id))!.endedAt! - revokedAt).toBeLessThan(5_000);
    expect(await expectPsqlEnded(p, id, /FATAL: +Airlock: your token was revoked/)).toBe('token_revoked');
    const audit = await gw.gw.store.listAudit({ target: tokenId(token) });
    expect(audit[0]).toMatchObject({ action: 'token.revoke', detail: { via: 'cli', revoked: true } });
  });

  it('ssh with the token as password: revoked through the API, the channel told why on stderr', async () => {
    const token = await gw.token('dave', ['dba']);
    const client = await gatewayClient(gw.sshPort, 'dave+box', { password: token });
    try {
      const ch = await new Promise<import('ssh2').ClientChannel>((resolve, reject) => client.exec('sleep 60', (err, c) => (err ? reject(err) : resolve(c))));
      const stderr = collect(ch.stderr);
      const exit = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
      const id = await liveSession('dave', 'ssh');
      const res = await apiCall(`${api}/api/tokens/${tokenId(token)}`, { method: 'DELETE', bearer: adminToken });
      expect(res.status).toBe(200);
      await stderr.waitFor('Airlock: your token was revoked', 10_000);
      expect(await exit).toBe(255);
      expect(await endReason(id)).toBe('token_revoked');
    } finally {
      client.end();
    }
  });

  it('ssh with a key: removing the key ends its sessions', async () => {
    const other = await makeClientKey('erin');
    try {
      await registerKey(gw.gw.store, other, 'erin', ['dba']);
      const running = ssh(gw, other, 'erin+box', ['sleep 60']);
      const id = await liveSession('erin', 'ssh');
      const fingerprint = (await gw.gw.store.listSshKeys('erin'))[0].fingerprint;
      expect((await cli('ssh-keys', 'remove', fingerprint)).code).toBe(0);
      const r = await running;
      expect(r.code).toBe(255);
      expect(r.stderr).toContain('Airlock: your SSH key was removed');
      expect(await endReason(id)).toBe('ssh_key_removed');
    } finally {
      await other.remove();
    }
  });
});

describe('locks', () => {
  it('a lock ends the subject\'s sessions on every protocol and refuses new logins until removed', async () => {
    const token = await gw.token('carol', ['dba']);
    const p = openPsql('carol', token);
    p.proc.stdin.write('select 1;\n');
    const pgId = await liveSession('carol', 'postgres');
    const running = ssh(gw, key, 'carol+box', ['sleep 60']);
    const sshId = await liveSession('carol', 'ssh');

    const add = await cli('locks', 'add', '--subject', 'carol', '--reason', 'laptop stolen', '--ttl', '1h');
    expect(add.code, add.stderr).toBe(0);
    const lockId = add.stdout.trim();
    try {
      await lockedOut(p, pgId, running, sshId, token, lockId);
    } finally {
      await gw.gw.store.deleteLock(lockId);
    }
    const ok = await psql({ port: gw.pgPort, user: 'carol', password: token, database: 'app' }, ['-At', '-c', 'select 1']);
    expect(ok.stdout.trim()).toBe('1');
    const actions = (await gw.gw.store.listAudit({ target: lockId })).map((a) => a.action).sort();
    expect(actions).toEqual(['lock.add', 'lock.remove']);
  });

  async function lockedOut(p: ReturnType<typeof openPsql>, pgId: string, running: ReturnType<typeof ssh>, sshId: string, token: string, lockId: string): Promise<void> {
    const reason = 'locked by local:root: laptop stolen';
    expect(await expectPsqlEnded(p, pgId, /FATAL: +Airlock: access for carol is locked by local:[^\s:]+: laptop stolen/)).toMatch(/^locked by local:\S+: laptop stolen$/);
    const r = await running;
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Airlock: access for carol is locked/);
    expect((await endReason(sshId)).replace(/local:[^\s:]+/, 'local:root')).toBe(reason);

    const refused = await psql({ port: gw.pgPort, user: 'carol', password: token, database: 'app' }, ['-c', 'select 1']);
    expect(refused.stderr).toMatch(/password authentication failed for user "carol": access for carol is locked/);
    expect((await ssh(gw, key, 'carol+box', ['true'])).code).toBe(255);
    expect((await apiCall(`${api}/api/me`, { bearer: token })).status).toBe(401);

    const list = await apiCall(`${api}/api/locks`, { bearer: adminToken });
    expect(list.json.locks).toEqual([expect.objectContaining({ id: lockId, subject: 'carol', reason: 'laptop stolen' })]);
    expect((await cli('locks', 'remove', lockId)).code).toBe(0);
  }

  it('the API places a lock, audited with the admin', async () => {
    const token = await gw.token('frank', ['dba']);
    const p = openPsql('frank', token);
    p.proc.stdin.write('select 1;\n');
    const id = await liveSession('frank', 'postgres');
    const res = await apiCall(`${api}/api/locks`, { method: 'POST', bearer: adminToken, body: { subject: 'frank' } });
    expect(res.status).toBe(200);
    expect(await expectPsqlEnded(p, id, /access for frank is locked by root/)).toBe('locked by root');
    expect((await gw.gw.store.listAudit({ target: res.json.lock.id }))[0]).toMatchObject({ subject: 'root', action: 'lock.add', detail: { via: 'api', subject: 'frank' } });
    await apiCall(`${api}/api/locks/${res.json.lock.id}`, { method: 'DELETE', bearer: adminToken });
  });
});

describe('terminate', () => {
  it('airlock sessions kill ends a live psql session, its end reason naming who', async () => {
    const token = await gw.token('gina', ['dba']);
    const p = openPsql('gina', token);
    p.proc.stdin.write('select 1;\n');
    const id = await liveSession('gina', 'postgres');
    const r = await cli('sessions', 'kill', id, '--reason', 'runaway query');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ended \(terminated by local:\S+: runaway query\)/);
    await expectPsqlEnded(p, id, /FATAL: +Airlock: the session was terminated by local:\S+: runaway query/);
    expect((await gw.gw.store.listAudit({ target: id })).find((a) => a.action === 'session.terminate')).toMatchObject({ detail: { via: 'cli', reason: 'runaway query' } });
    expect((await cli('sessions', 'kill', id)).code).toBe(1);
  });

  it('POST /api/sessions/ID/terminate ends a live ssh session (admins only), then 409', async () => {
    const running = ssh(gw, key, 'carol+box', ['sleep 60']);
    const id = await liveSession('carol', 'ssh');
    const user = await gw.token('carol', ['dba']);
    expect((await apiCall(`${api}/api/sessions/${id}/terminate`, { method: 'POST', bearer: user, body: {} })).status).toBe(403);
    const res = await apiCall(`${api}/api/sessions/${id}/terminate`, { method: 'POST', bearer: adminToken, body: { reason: 'incident 7' } });
    expect(res.status).toBe(202);
    const r = await running;
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Airlock: the session was terminated by root: incident 7');
    expect(await endReason(id)).toBe('terminated by root: incident 7');
    expect((await apiCall(`${api}/api/sessions/${id}/terminate`, { method: 'POST', bearer: adminToken, body: {} })).status).toBe(409);
    expect((await apiCall(`${api}/api/sessions/nope/terminate`, { method: 'POST', bearer: adminToken, body: {} })).status).toBe(404);
  });
});
