/**
 * Browser login for the web console, end to end: headless Chromium opens the gateway's /auth/oidc/login, signs in
 * at the suite's real OpenID Provider (devInteractions login form + consent), comes back through the callback
 * (code + PKCE, confidential client) and lands on the web console signed in; the session cookie works on the API.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, SignJWT } from 'jose';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginError, loginProvider, verifyIdToken } from '../../src/identity/oidc/login.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { freePort } from '../harness/ports.ts';
import { chromiumPath, launchChromium, loopbackContext, signInAtIdp } from './browser.ts';
import { RESOURCE_JWT, startIdp, type TestIdp } from './oidc-provider.ts';

const WEB = { clientId: 'airlock-web', clientSecret: 'airlock-web-secret-0123456789abcdefgh' };

let idp: TestIdp;
let gw: TestGateway;
let browser: Browser;
let api = '';
let shots = '';

beforeAll(async () => {
  const apiPort = await freePort();
  api = `http://127.0.0.1:${apiPort}`;
  idp = await startIdp(
    [
      { ...WEB, type: 'web', redirectUris: [`${api}/auth/oidc/callback`] },
      { clientId: 'airlock-cli', type: 'native' },
    ],
    { users: { alice: { groups: ['dba', 'dba-leads'], name: 'Alice Example' } } },
  );
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: `127.0.0.1:${apiPort}` },
    identity: {
      oidc: [{ issuer: idp.issuer, audience: ['airlock', 'airlock-cli'], ...WEB, scopes: ['openid', 'profile', 'email', 'groups'], resource: RESOURCE_JWT }],
      login: { issuer: idp.issuer, cliClientId: 'airlock-cli' },
      roles: { approver: ['dba-leads'] },
    },
  });
  shots = mkdtempSync(join(tmpdir(), 'airlock-login-shots-'));
  if (chromiumPath()) browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await idp?.stop();
});

/** Starts a login with plain fetch: the login-state cookie and the provider URL it redirects to. */
async function startLogin(): Promise<{ cookie: string; location: URL }> {
  const res = await fetch(`${api}/auth/oidc/login`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('airlock_oidc_login='))!;
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Lax/);
  return { cookie: setCookie.split(';')[0], location: new URL(res.headers.get('location')!) };
}

describe.skipIf(!chromiumPath())('browser login (OIDC code + PKCE) in headless Chromium', () => {
  it('signs in at the provider from the console, lands on the console signed in; the cookie works on /api/me', async () => {
    const context = await loopbackContext(browser);
    try {
      const page = await context.newPage();
      await page.goto(`${api}/`);
      await page.waitForSelector('#login-oidc');
      expect(await page.isVisible('#whoami')).toBe(false);
      await page.screenshot({ path: join(shots, 'web-signed-out.png') });

      await page.click('#login-oidc');
      expect(page.url().startsWith(`${idp.issuer}/`)).toBe(true);
      await signInAtIdp(page, 'alice');
      await page.waitForURL(`${api}/`);
      await expect.poll(() => page.textContent('#whoami')).toBe('alice');
      expect(await page.getAttribute('#whoami', 'title')).toBe('groups: dba, dba-leads');
      // dba-leads is an approver group: the review queue is offered, the tokens page (admins) is not.
      expect(await page.isVisible('a[href="/reviews"]')).toBe(true);
      expect(await page.isVisible('a[href="/tokens"]')).toBe(false);
      await page.screenshot({ path: join(shots, 'web-signed-in.png') });

      const cookies = await context.cookies(api);
      const session = cookies.find((c) => c.name === 'airlock_session')!;
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      expect(session.value).toMatch(/^alk_/);
      // The login state is gone once used.
      expect(cookies.find((c) => c.name === 'airlock_oidc_login')).toBeUndefined();

      const me = await fetch(`${api}/api/me`, { headers: { cookie: `airlock_session=${session.value}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ subject: 'alice', groups: ['dba', 'dba-leads'], kind: 'user', roles: expect.arrayContaining(['user', 'approver']) });
    } finally {
      await context.close();
    }
  });

  it('a failed sign-in shows a clear page (provider error passed through)', async () => {
    const context = await loopbackContext(browser);
    try {
      const page = await context.newPage();
      const { location } = await startLogin();
      await page.goto(`${api}/auth/oidc/callback?error=access_denied&error_description=${encodeURIComponent('End-User aborted interaction')}&state=${location.searchParams.get('state')}`);
      expect(await page.textContent('h1')).toBe('Sign-in failed');
      expect(await page.textContent('#error')).toBe('The identity provider refused the sign-in: access_denied (End-User aborted interaction).');
      await page.screenshot({ path: join(shots, 'web-error.png') });
    } finally {
      await context.close();
    }
  });
});

describe('browser login: refusals', () => {
  it('the redirect carries PKCE S256, state, nonce and the configured scopes; no resource for the web client', async () => {
    const { location } = await startLogin();
    const q = location.searchParams;
    expect(`${location.origin}${location.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(q.get('response_type')).toBe('code');
    expect(q.get('client_id')).toBe(WEB.clientId);
    expect(q.get('redirect_uri')).toBe(`${api}/auth/oidc/callback`);
    expect(q.get('scope')).toBe('openid profile email groups');
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('nonce')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get('resource')).toBeNull();
  });

  it('without the login cookie: no sign-in in progress', async () => {
    const res = await fetch(`${api}/auth/oidc/callback?code=abc&state=def`);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('No sign-in is in progress in this browser');
  });

  it('state mismatch', async () => {
    const { cookie } = await startLogin();
    const res = await fetch(`${api}/auth/oidc/callback?code=abc&state=not-the-state`, { headers: { cookie } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('State mismatch: this answer does not belong to a sign-in started in this browser.');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('airlock_session='))).toBe(false);
  });

  it('a forged login cookie is ignored', async () => {
    const { location } = await startLogin();
    const res = await fetch(`${api}/auth/oidc/callback?code=abc&state=${location.searchParams.get('state')}`, { headers: { cookie: 'airlock_oidc_login=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('State mismatch');
  });

  it('a code the provider does not know: the provider error is shown, no session', async () => {
    const { cookie, location } = await startLogin();
    const res = await fetch(`${api}/auth/oidc/callback?code=bogus-code&state=${location.searchParams.get('state')}`, { headers: { cookie } });
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(body).toContain('Code exchange failed: the identity provider refused: invalid_grant');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('airlock_session='))).toBe(false);
  });

  it('ID token checks: nonce mismatch, wrong audience, foreign key', async () => {
    const provider = await loginProvider(idp.issuer);
    const key = await importJWK(idp.key.privateJwk, idp.key.alg);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, k = key, kid = idp.key.kid) =>
      new SignJWT({ sub: 'alice', nonce: 'n-1', ...claims }).setProtectedHeader({ alg: idp.key.alg, kid }).setIssuer(idp.issuer).setAudience((claims.aud as string | undefined) ?? WEB.clientId).setIssuedAt(now).setExpirationTime(now + 300).sign(k);
    const check = (token: string, nonce = 'n-1') => verifyIdToken(provider, token, { clientId: WEB.clientId, nonce });
    await expect(check(await sign({}))).resolves.toMatchObject({ sub: 'alice' });
    await expect(check(await sign({}), 'n-2')).rejects.toThrow('the ID token is not valid: nonce mismatch');
    await expect(check(await sign({ aud: 'someone-else' }))).rejects.toThrow(`wrong audience (expected ${WEB.clientId})`);
    const other = await import('./oidc-provider.ts').then((m) => m.newSigningKey());
    await expect(check(await sign({}, await importJWK(other.privateJwk, other.alg), other.kid))).rejects.toThrow('signed with a key the issuer does not publish');
    await expect(check(await sign({}), 'n-2')).rejects.toBeInstanceOf(LoginError);
  });

  it('login parameters for airlock login come from /auth/oidc/cli', async () => {
    const res = await fetch(`${api}/auth/oidc/cli`);
    expect(await res.json()).toEqual({ issuer: idp.issuer, clientId: 'airlock-cli', scopes: ['openid', 'profile', 'email', 'groups'], resource: RESOURCE_JWT, audience: ['airlock', 'airlock-cli'] });
  });
});

afterAll(() => {
  // Screenshots stay for a look when AIRLOCK_KEEP_SHOTS is set; otherwise they are removed.
  if (process.env.AIRLOCK_KEEP_SHOTS) console.log(`screenshots in ${shots}`);
  else rmSync(shots, { recursive: true, force: true });
});
