import { openStore } from '../../src/store/open.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { apiCall } from '../harness/http.ts';
import { run } from '../harness/postgres.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');
const identity = { roles: { admin: ['platform'] }, maxTokenTtl: { default: '8h', groups: { agents: '1h' }, roles: { admin: '2h' } } };
const HOUR = 3_600_000;

let dir: string;
let gw: TestGateway;
let api: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'airlock-ttl-'));
  gw = await startGateway({ listen: { api: '127.0.0.1:0' }, identity });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
});

afterAll(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('identity.maxTokenTtl', () => {
  it('the CLI refuses a longer ttl and issues the limit by default', async () => {
    const cfg = join(dir, 'airlock.yaml');
    writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\nidentity:\n  maxTokenTtl: { default: 8h, groups: { agents: 1h } }\n`);
    await openStore(join(dir, 'data')).close(); // the gateway's store: only a gateway creates one
    const cli = (...args: string[]) => run(process.execPath, [BIN, 'tokens', ...args, '--config', cfg]);
    const long = await cli('issue', '--subject', 'ci', '--groups', 'agents,dba', '--ttl', '2h');
    expect(long.code).toBe(2);
    expect(long.stderr).toContain('tokens with group agents may live at most 1h');
    const overDefault = await cli('issue', '--subject', 'ann', '--groups', 'dba', '--ttl', '9h');
    expect(overDefault.code).toBe(2);
    expect(overDefault.stderr).toContain('the default may live at most 8h');
    const before = Date.now();
    const capped = await cli('issue', '--subject', 'ci', '--groups', 'agents');
    expect(capped.code, capped.stderr).toBe(0);
    const list = JSON.parse((await cli('list', '--json')).stdout) as { subject: string; expiresAt: number }[];
    const ci = list.find((t) => t.subject === 'ci')!;
    expect(ci.expiresAt - before).toBeGreaterThan(HOUR - 60_000);
    expect(ci.expiresAt - before).toBeLessThanOrEqual(HOUR + 60_000);
  });

  it('the API refuses a longer ttl (400) and caps the default', async () => {
    const admin = await gw.token('root', ['platform'], { ttlMs: HOUR });
    const post = (body: unknown) => apiCall(`${api}/api/tokens`, { method: 'POST', bearer: admin, body });
    const long = await post({ subject: 'ci', groups: ['agents'], ttl: '90m' });
    expect(long.status).toBe(400);
    expect(long.json.message).toContain('group agents may live at most 1h');
    const adminLong = await post({ subject: 'ops', groups: ['platform'], ttl: '3h' });
    expect(adminLong.status).toBe(400);
    expect(adminLong.json.message).toContain('role admin may live at most 2h');
    const ok = await post({ subject: 'ci', groups: ['agents'] });
    expect(ok.status).toBe(200);
    expect(ok.json.record.expiresAt - ok.json.record.createdAt).toBe(HOUR);
  });
});
