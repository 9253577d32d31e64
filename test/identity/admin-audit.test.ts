/**
 * Every administrative change is audited the same way from the CLI (a child process on the data dir, as
 * `local:USER`) and from the API (as the calling admin); `airlock whoami` shows what the gateway resolves.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { run } from '../harness/postgres.ts';
import { makeClientKey, type ClientKey } from '../ssh/helpers.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
let gw: TestGateway;
let api: string;
let cfg: string;
let admin: string;
let key: ClientKey;
const SESSION = 'ses_audit_hold';

beforeAll(async () => {
  gw = await startGateway({ listen: { api: '127.0.0.1:0' }, identity: { roles: { admin: ['platform'], auditor: ['security'] } } });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  cfg = join(gw.dataDir, 'airlock.yaml');
  writeFileSync(cfg, `dataDir: ${gw.dataDir}\n`);
  admin = await gw.token('root', ['platform']);
  key = await makeClientKey('audit');
  await gw.gw.store.insertSession({
    id: SESSION, protocol: 'postgres', connection: 'app', subject: 'alice', groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: null,
    clientAddress: '127.0.0.1:1', application: null, startedAt: 1, endedAt: 2, endReason: 'client_terminated', bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
  });
});

afterAll(async () => {
  await gw?.stop();
  await key?.remove();
});

const cli = (...args: string[]) => run(process.execPath, [BIN, ...args, '--config', cfg]);
const auditOf = async (target: string) => (await gw.gw.store.listAudit({ target })).map((a) => ({ action: a.action, subject: a.subject, via: a.detail.via })).reverse();

describe('administrative actions are audited, CLI and API alike', () => {
  const me = expect.stringMatching(/^local:/);

  it('from the CLI: tokens issued and revoked', async () => {
    const issued = await cli('tokens', 'issue', '--subject', 'ci', '--groups', 'agents', '--ttl', '1h');
    expect(issued.code, issued.stderr).toBe(0);
    const id = issued.stdout.trim().slice(4, 30);
    expect((await cli('tokens', 'revoke', id)).code).toBe(0);
    expect(await auditOf(id)).toEqual([{ action: 'token.issue', subject: me, via: 'cli' }, { action: 'token.revoke', subject: me, via: 'cli' }]);
    expect((await gw.gw.store.listAudit({ target: id }))[1].detail).toMatchObject({ subject: 'ci', groups: ['agents'] });
  });

  it('from the CLI: SSH keys added and removed', async () => {
    const added = await cli('ssh-keys', 'add', '--subject', 'erin', '--groups', 'ops', key.file + '.pub');
    expect(added.code, added.stderr).toBe(0);
    const fingerprint = added.stdout.trim();
    expect((await cli('ssh-keys', 'remove', fingerprint)).code).toBe(0);
    expect(await auditOf(fingerprint)).toEqual([{ action: 'ssh-key.add', subject: me, via: 'cli' }, { action: 'ssh-key.remove', subject: me, via: 'cli' }]);
  });

  it('from the CLI: legal holds', async () => {
    expect((await cli('sessions', 'hold', SESSION)).code).toBe(0);
    expect((await cli('sessions', 'unhold', SESSION)).code).toBe(0);
    expect((await auditOf(SESSION)).map((a) => a.action)).toEqual(['session.hold', 'session.unhold']);
  });

  it('from the API: tokens, holds, locks, as the calling admin', async () => {
    const issued = await apiCall(`${api}/api/tokens`, { method: 'POST', bearer: admin, body: { subject: 'bot', groups: ['agents'], ttl: '1h' } });
    expect(issued.status).toBe(200);
    const id = issued.json.record.id;
    expect((await apiCall(`${api}/api/tokens/${id}`, { method: 'DELETE', bearer: admin })).status).toBe(200);
    expect(await auditOf(id)).toEqual([{ action: 'token.issue', subject: 'root', via: 'api' }, { action: 'token.revoke', subject: 'root', via: 'api' }]);

    const hold = await apiCall(`${api}/api/sessions/${SESSION}/hold`, { method: 'POST', bearer: admin, body: { hold: true } });
    expect(hold.status).toBe(200);
    expect((await gw.gw.store.getSession(SESSION))?.legalHold).toBe(true);
    expect((await auditOf(SESSION)).at(-1)).toEqual({ action: 'session.hold', subject: 'root', via: 'api' });

    const lock = await apiCall(`${api}/api/locks`, { method: 'POST', bearer: admin, body: { subject: 'mallory', reason: 'test', ttl: '1h' } });
    expect((await apiCall(`${api}/api/locks/${lock.json.lock.id}`, { method: 'DELETE', bearer: admin })).status).toBe(200);
    expect(await auditOf(lock.json.lock.id)).toEqual([{ action: 'lock.add', subject: 'root', via: 'api' }, { action: 'lock.remove', subject: 'root', via: 'api' }]);
    // Auditors read the trail through the API.
    const auditor = await gw.token('sam', ['security']);
    const trail = await apiCall(`${api}/api/audit?target=${lock.json.lock.id}`, { bearer: auditor });
    expect(trail.json.audit.map((a: { action: string }) => a.action).sort()).toEqual(['lock.add', 'lock.remove']);
  });
});

describe('airlock whoami', () => {
  it('shows the subject, the groups of the credential presented and the roles they give', async () => {
    const token = await gw.token('root', ['platform', 'dba']);
    const r = await run(process.execPath, [BIN, 'whoami', '--token', token, '--url', api]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/subject: +root \(user\)/);
    expect(r.stdout).toMatch(/groups: +platform, dba +\(carried by this credential\)/);
    expect(r.stdout).toMatch(/roles: +user, admin/);
    expect(r.stdout).toMatch(new RegExp(`credential: +token ${token.slice(4, 30)}, expires 20`));
    const json = JSON.parse((await run(process.execPath, [BIN, 'whoami', '--json', '--token', token, '--url', api])).stdout);
    expect(json).toMatchObject({ subject: 'root', groups: ['platform', 'dba'], roles: ['user', 'admin'], authMethod: 'token' });
    const bad = await run(process.execPath, [BIN, 'whoami', '--token', 'alk_nope', '--url', api]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('401');
  });
});
