/**
 * `airlock login` end to end: the real CLI entry runs in-process; the URL it prints is driven in headless Chromium
 * (devInteractions login + consent) so the provider redirects to the CLI's loopback server (code + PKCE, public
 * client), or the device flow is confirmed in the browser. Then commands that act as someone use the session
 * against a running gateway; refresh, logout and the failure modes are checked. XDG_CONFIG_HOME is a temp dir.
 */
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiTarget, callApi } from '../../src/cli/api-client.ts';
import { chooseToken, sessionPath, type LoginSession } from '../../src/cli/login-session.ts';
import { main } from '../../src/cli/main.ts';
import { pollDeviceToken, type LoginProvider } from '../../src/identity/oidc/login.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { chromiumPath, launchChromium, loopbackContext, signInAtIdp } from './browser.ts';
import { RESOURCE_JWT, startIdp, type TestIdp } from './oidc-provider.ts';

let idp: TestIdp;
let gw: TestGateway;
let browser: Browser;
let api = '';
let configHome = '';
let shots = '';
const savedEnv = { ...process.env };

beforeAll(async () => {
  idp = await startIdp([{ clientId: 'airlock-cli', type: 'native' }], { users: { alice: { groups: ['dba', 'dba-leads'] }, bob: { groups: ['ops'] } }, deviceInterval: 1 });
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: {
      // The ID token's audience is the CLI client; access tokens for urn:airlock carry aud "airlock".
      oidc: [{ issuer: idp.issuer, audience: ['airlock', 'airlock-cli'], clientId: 'airlock-cli', scopes: ['openid', 'profile', 'email', 'groups'], resource: RESOURCE_JWT }],
      roles: { approver: ['dba-leads'] },
    },
  });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  configHome = mkdtempSync(join(tmpdir(), 'airlock-cli-home-'));
  shots = mkdtempSync(join(tmpdir(), 'airlock-cli-shots-'));
  process.env.XDG_CONFIG_HOME = configHome;
  process.env.AIRLOCK_NO_BROWSER = '1';
  delete process.env.AIRLOCK_TOKEN;
  delete process.env.AIRLOCK_URL;
  delete process.env.AIRLOCK_CONFIG;
  if (chromiumPath()) browser = await launchChromium();
});

afterAll(async () => {
  process.env = savedEnv;
  await browser?.close();
  await gw?.stop();
  await idp?.stop();
  rmSync(configHome, { recursive: true, force: true });
  if (process.env.AIRLOCK_KEEP_SHOTS) console.log(`screenshots in ${shots}`);
  else rmSync(shots, { recursive: true, force: true });
});

interface Run {
  readonly out: string[];
  readonly err: string[];
  readonly done: Promise<number>;
}

/** Starts the CLI in-process, capturing what it prints. */
function run(argv: string[]): Run {
  const out: string[] = [];
  const err: string[] = [];
  const done = main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { out, err, done };
}

/** The first printed line matching `re` (the CLI prints the URL before it waits). */
async function printed(r: Run, re: RegExp): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const hit = r.out.map((l) => re.exec(l)?.[0]).find(Boolean);
    if (hit) return hit;
    let finished = false;
    await Promise.race([r.done.then(() => (finished = true)), new Promise((res) => setTimeout(res, 25))]);
    if (finished) throw new Error(`the command ended before printing ${re}: ${r.out.join('\n')}\n${r.err.join('\n')}`);
  }
  throw new Error(`nothing matching ${re} was printed: ${r.out.join('\n')}`);
}

const session = (): LoginSession => JSON.parse(readFileSync(sessionPath(), 'utf8')) as LoginSession;

function expectNoTokensPrinted(r: Run, s: LoginSession) {
  const text = [...r.out, ...r.err].join('\n');
  for (const t of [s.access_token, s.id_token, s.refresh_token]) if (t) expect(text).not.toContain(t);
}

/** `airlock login` with the browser part done in Chromium. */
async function browserLogin(argv: string[], login: string, shot?: string): Promise<Run> {
  const r = run(['login', ...argv]);
  const url = await printed(r, new RegExp(`${idp.issuer.replace(/[.]/g, '\\.')}/auth\\?\\S+`));
  const context = await loopbackContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(url);
    await signInAtIdp(page, login);
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    await expect.poll(() => page.textContent('h1')).toBe('Signed in to Airlock');
    if (shot) await page.screenshot({ path: join(shots, shot) });
  } finally {
    await context.close();
  }
  return r;
}

describe.skipIf(!chromiumPath())('airlock login (browser, loopback redirect)', () => {
  beforeEach(() => rmSync(join(configHome, 'airlock'), { recursive: true, force: true }));

  it('logs in, keeps the session 0600, and commands act as the person', async () => {
    const r = await browserLogin(['--url', api], 'alice', 'cli-loopback-done.png');
    expect(await r.done, r.err.join('\n')).toBe(0);
    expect(r.out.join('\n')).toContain('Logged in as alice (groups: dba, dba-leads) via');
    const url = new URL(r.out.find((l) => l.includes('/auth?'))!.trim());
    expect(url.searchParams.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(RESOURCE_JWT);
    expect(url.searchParams.get('scope')).toBe('openid profile email groups offline_access');
    expect(url.searchParams.get('prompt')).toBe('consent');

    const path = sessionPath();
    expect(path).toBe(join(configHome, 'airlock', 'session.json'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    const s = session();
    expect(s).toMatchObject({ version: 1, issuer: idp.issuer, client_id: 'airlock-cli', url: api, presented: 'access_token', subject: 'alice', groups: ['dba', 'dba-leads'] });
    expect(s.refresh_token).toBeTruthy();
    expect(s.expires_at).toBeGreaterThan(Date.now() / 1000 + 60);
    expectNoTokensPrinted(r, s);

    // /api/me through apiTarget: no --token, no AIRLOCK_TOKEN, no --url.
    const t = await apiTarget({});
    expect(t.url).toBe(api);
    expect(await callApi(t, 'GET', '/api/me')).toMatchObject({ subject: 'alice', groups: ['dba', 'dba-leads'], authMethod: 'oidc', kind: 'user' });

    const list = run(['reviews', 'list']);
    expect(await list.done, list.err.join('\n')).toBe(0);
    expect(list.out[0]).toMatch(/^ID\tSTATUS/);
  });

  it('refreshes transparently when the token is about to expire; a dead refresh token says to log in again', async () => {
    const r = await browserLogin(['--url', api], 'alice');
    expect(await r.done, r.err.join('\n')).toBe(0);
    const before = session();
    writeFileSync(sessionPath(), JSON.stringify({ ...before, expires_at: Math.floor(Date.now() / 1000) - 10 }), { mode: 0o600 });

    const t = await apiTarget({});
    const after = session();
    expect(after.access_token).not.toBe(before.access_token);
    expect(after.refresh_token).toBeTruthy();
    expect(after.refresh_token).not.toBe(before.refresh_token); // rotated for a public client
    expect(after.expires_at).toBeGreaterThan(Date.now() / 1000 + 60);
    expect(statSync(sessionPath()).mode & 0o777).toBe(0o600);
    expect(t.token).toBe(after.access_token);
    expect(await callApi(t, 'GET', '/api/me')).toMatchObject({ subject: 'alice' });
    // Within the margin: within 60 s of expiry counts as expired.
    writeFileSync(sessionPath(), JSON.stringify({ ...after, expires_at: Math.floor(Date.now() / 1000) + 30 }), { mode: 0o600 });
    await apiTarget({});
    expect(session().access_token).not.toBe(after.access_token);

    writeFileSync(sessionPath(), JSON.stringify({ ...session(), refresh_token: 'not-a-refresh-token', expires_at: 1 }), { mode: 0o600 });
    await expect(apiTarget({})).rejects.toThrow(/your airlock login has expired \(refresh failed: the identity provider refused: invalid_grant.*\): run `airlock login`/);
  });

  it('with --issuer/--client-id and no resource the ID token is presented (its audience is the CLI client)', async () => {
    const r = await browserLogin(['--issuer', idp.issuer, '--client-id', 'airlock-cli', '--scope', 'openid groups offline_access', '--url', api], 'bob');
    expect(await r.done, r.err.join('\n')).toBe(0);
    const s = session();
    expect(s.presented).toBe('id_token');
    expect(s.subject).toBe('bob');
    expect(s.refresh_token).toBeTruthy();
    const t = await apiTarget({});
    expect(t.token).toBe(s.id_token);
    expect(await callApi(t, 'GET', '/api/me')).toMatchObject({ subject: 'bob', groups: ['ops'] });
  });

  it('logout revokes at the provider and removes the session', async () => {
    const r = await browserLogin(['--url', api], 'alice');
    expect(await r.done).toBe(0);
    const s = session();
    const out = run(['logout']);
    expect(await out.done).toBe(0);
    expect(out.out.join('\n')).toContain('(tokens revoked at the provider)');
    expect(() => statSync(sessionPath())).toThrow();
    expectNoTokensPrinted(out, s);
    // The refresh token no longer works.
    const res = await fetch(`${idp.issuer}/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: s.refresh_token!, client_id: 'airlock-cli' }) });
    expect(((await res.json()) as { error?: string }).error).toBe('invalid_grant');
    await expect(apiTarget({})).rejects.toThrow('this command acts as you: run `airlock login`, pass --token or set AIRLOCK_TOKEN');
    const again = run(['logout']);
    expect(await again.done).toBe(0);
    expect(again.out).toEqual(['Not logged in.']);
  });
});

describe.skipIf(!chromiumPath())('airlock login --device', () => {
  beforeEach(() => rmSync(join(configHome, 'airlock'), { recursive: true, force: true }));

  it('prints the verification URL and user code; confirming in a browser completes the login', async () => {
    const r = run(['login', '--device', '--url', api]);
    const url = await printed(r, /http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\S+/);
    const userCode = new URL(url).searchParams.get('user_code')!;
    expect(r.out.join('\n')).toContain(`and check that it shows the code ${userCode}`);
    const context = await loopbackContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(url);
      // The provider's confirmation page shows the same code.
      await page.waitForSelector('button[autofocus]');
      expect(await page.textContent('code')).toBe(userCode);
      await page.screenshot({ path: join(shots, 'cli-device-confirm.png') });
      await page.click('button[autofocus]');
      await signInAtIdp(page, 'alice');
      await expect.poll(() => page.textContent('h1')).toContain('Sign-in Success');
    } finally {
      await context.close();
    }
    expect(await r.done, r.err.join('\n')).toBe(0);
    expect(r.out.join('\n')).toContain('Logged in as alice (groups: dba, dba-leads)');
    const s = session();
    expect(s.presented).toBe('access_token');
    expect(statSync(sessionPath()).mode & 0o777).toBe(0o600);
    expectNoTokensPrinted(r, s);
    expect(await callApi(await apiTarget({}), 'GET', '/api/me')).toMatchObject({ subject: 'alice' });
  });

  it('an aborted confirmation ends the login with a clear error', async () => {
    const r = run(['login', '--device', '--url', api]);
    const url = await printed(r, /http:\/\/127\.0\.0\.1:\d+\/device\?user_code=\S+/);
    const context = await loopbackContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(url);
      await page.click('button[name=abort]');
    } finally {
      await context.close();
    }
    expect(await r.done).toBe(3);
    expect(r.err.join('\n')).toBe('airlock login: device login failed: the login was denied or aborted in the browser');
  });
});

describe('airlock login: failures are clear', () => {
  beforeEach(() => rmSync(join(configHome, 'airlock'), { recursive: true, force: true }));

  async function loopbackOf(r: Run): Promise<{ redirect: string; state: string }> {
    const u = new URL((await printed(r, /http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/)).trim());
    return { redirect: u.searchParams.get('redirect_uri')!, state: u.searchParams.get('state')! };
  }

  it('state mismatch', async () => {
    const r = run(['login', '--url', api]);
    const { redirect } = await loopbackOf(r);
    const res = await fetch(`${redirect}?code=abc&state=forged`);
    expect(res.status).toBe(400);
    expect(await r.done).toBe(3);
    expect(r.err.join('\n')).toContain('airlock login: state mismatch: the browser came back with an answer that does not belong to this login');
    expect(() => statSync(sessionPath())).toThrow();
  });

  it('the provider refuses', async () => {
    const r = run(['login', '--url', api]);
    const { redirect, state } = await loopbackOf(r);
    await fetch(`${redirect}?error=access_denied&error_description=End-User+aborted+interaction&state=${state}`);
    expect(await r.done).toBe(3);
    expect(r.err.join('\n')).toBe('airlock login: the identity provider refused the login: access_denied (End-User aborted interaction)');
  });

  it('a bad code: the token endpoint error is passed through', async () => {
    const r = run(['login', '--url', api]);
    const { redirect, state } = await loopbackOf(r);
    const res = await fetch(`${redirect}?code=made-up&state=${state}`);
    expect(await res.text()).toContain('Login failed');
    expect(await r.done).toBe(3);
    expect(r.err.join('\n')).toContain('airlock login: code exchange failed: the identity provider refused: invalid_grant');
  });

  it('timeout', async () => {
    const r = run(['login', '--url', api, '--timeout', '300ms']);
    expect(await r.done).toBe(3);
    expect(r.err.join('\n')).toBe('airlock login: no answer from the browser within 300 ms; run airlock login again');
  });

  it('a gateway without OIDC login, and no session for commands', async () => {
    const plain = await startGateway({ listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' } });
    try {
      const r = run(['login', '--url', `http://127.0.0.1:${plain.gw.listeners.get('api')!.port}`]);
      expect(await r.done).toBe(2);
      expect(r.err.join('\n')).toContain('has no OIDC login configured');
    } finally {
      await plain.stop();
    }
    const list = run(['reviews', 'list']);
    expect(await list.done).toBe(2);
    expect(list.err.join('\n')).toContain('this command acts as you: run `airlock login`, pass --token or set AIRLOCK_TOKEN');
  });
});

describe('device polling (RFC 8628 §3.5) against a scripted token endpoint', () => {
  async function scripted(answers: Array<[number, Record<string, unknown>]>) {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push(body);
        const [status, json] = answers.shift() ?? [500, {}];
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const tokenEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
    const provider = { issuer: 'http://127.0.0.1', tokenEndpoint, metadata: { issuer: 'http://127.0.0.1', jwksUri: '', tokenEndpoint } } as unknown as LoginProvider;
    return { provider, seen, close: () => server.close() };
  }
  const device = { deviceCode: 'dc', userCode: 'ABCD-EFGH', verificationUri: 'http://x', expiresIn: 600, interval: 2 };

  it('waits on authorization_pending, backs off 5 s on slow_down, returns the tokens', async () => {
    const s = await scripted([
      [400, { error: 'authorization_pending' }],
      [400, { error: 'slow_down' }],
      [400, { error: 'authorization_pending' }],
      [200, { access_token: 'at', id_token: 'it', token_type: 'Bearer', expires_in: 60 }],
    ]);
    const sleeps: number[] = [];
    try {
      const t = await pollDeviceToken(s.provider, { clientId: 'airlock-cli' }, device, { sleep: async (ms) => void sleeps.push(ms) });
      expect(t).toMatchObject({ access_token: 'at', id_token: 'it' });
      expect(sleeps).toEqual([2000, 2000, 7000, 7000]);
      expect(s.seen[0]).toContain('grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code');
      expect(s.seen[0]).toContain('client_id=airlock-cli');
    } finally {
      s.close();
    }
  });

  it('expired_token and the code lifetime end the wait', async () => {
    const s = await scripted([[400, { error: 'authorization_pending' }], [400, { error: 'expired_token' }]]);
    try {
      await expect(pollDeviceToken(s.provider, { clientId: 'c' }, device, { sleep: async () => undefined })).rejects.toThrow('the code expired before the login was confirmed');
    } finally {
      s.close();
    }
    let now = 0;
    const t = await scripted(Array.from({ length: 10 }, () => [400, { error: 'authorization_pending' }] as [number, Record<string, unknown>]));
    try {
      await expect(
        pollDeviceToken(t.provider, { clientId: 'c' }, { ...device, expiresIn: 5 }, { now: () => now, sleep: async (ms) => void (now += ms) }),
      ).rejects.toThrow('nobody confirmed the code within 5 s');
    } finally {
      t.close();
    }
  });
});

describe('which token is presented', () => {
  const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
  it('the access token when it is a JWT for one of the gateway audiences, else the ID token', () => {
    expect(chooseToken({ access_token: jwt({ aud: 'airlock' }), id_token: 'id' }, { audiences: ['airlock'] })).toBe('access_token');
    expect(chooseToken({ access_token: jwt({ aud: ['x', 'airlock'] }), id_token: 'id' }, { audiences: ['airlock'] })).toBe('access_token');
    expect(chooseToken({ access_token: jwt({ aud: 'userinfo' }), id_token: 'id' }, { audiences: ['airlock'] })).toBe('id_token');
    expect(chooseToken({ access_token: 'opaque-token-value', id_token: 'id' }, { audiences: ['airlock'] })).toBe('id_token');
    expect(chooseToken({ access_token: jwt({ aud: 'airlock' }), id_token: 'id' }, { resource: 'urn:airlock' })).toBe('access_token');
    expect(chooseToken({ access_token: jwt({ aud: 'airlock' }), id_token: 'id' }, {})).toBe('id_token');
    expect(() => chooseToken({ access_token: 'opaque' }, {})).toThrow('returned no ID token');
  });
});
