/**
 * The web console end to end in headless Chromium, against a real gateway, PostgreSQL, sshd, psql and an
 * OpenSSH-speaking client: sign in with a pasted token, find a session by a statement's text and open its
 * timeline, replay an SSH shell and read the terminal at chosen instants, approve a held UPDATE from the
 * queue while psql waits, and check that a user and an auditor see different things.
 *
 * `AIRLOCK_SCREENSHOTS=1` also writes the README's screenshots to docs/screenshots/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ClientChannel } from 'ssh2';
import pgClient from 'pg';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.mjs';
import type { StoredEvent } from '../../src/store/types.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { waitFor } from '../harness/wait.ts';
import { freePort } from '../harness/ports.ts';
import { chromiumPath, launchChromium, loopbackContext } from '../identity/browser.ts';
import { startIdp, type TestIdp } from '../identity/oidc-provider.ts';
import { collect, endedSession, gatewayClient, makeClientKey, registerKey, sessionEvents, sshConnection, type ClientKey } from '../ssh/helpers.ts';

const SHOTS = process.env.AIRLOCK_SCREENSHOTS ? new URL('../../docs/screenshots/', import.meta.url).pathname : undefined;
const marker = randomBytes(3).toString('hex');
const REPORT_SQL = `SELECT id, full_name, email, plan FROM customers WHERE note <> 'zebracorn' ORDER BY id`;

let pg: PgServer;
let sshd: SshdServer;
let gw: TestGateway;
let idp: TestIdp;
let browser: Browser;
let aliceKey: ClientKey;
let api = '';
let sshSession = '';
let sshEvents: StoredEvent[] = [];

beforeAll(async () => {
  const [web] = await Promise.all([buildWeb(), (async () => {
    pg = await startPostgres();
    await pg.sql('CREATE TABLE customers (id int primary key, full_name text, email text, plan text, note text)');
    await pg.sql(`INSERT INTO customers VALUES (1, 'Jane Roe', 'jane@example.org', 'team', 'renewal due'), (2, 'John Doe', 'john@example.org', 'free', 'trial'),
      (3, 'Ada Lovelace', 'ada@example.org', 'enterprise', 'vip')`);
  })(), (async () => (sshd = await startSshd()))()]);
  expect(web.files).toContain('index.html');
  const apiPort = await freePort();
  api = `http://127.0.0.1:${apiPort}`;
  // An OpenID provider, so the login page offers it next to the token form.
  const client = { clientId: 'airlock-web', clientSecret: 'airlock-web-secret-0123456789abcdefgh' };
  idp = await startIdp([{ ...client, type: 'web', redirectUris: [`${api}/auth/oidc/callback`] }]);
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', ssh: '127.0.0.1:0', api: `127.0.0.1:${apiPort}` },
    identity: {
      oidc: [{ issuer: idp.issuer, audience: 'airlock', ...client }],
      login: { issuer: idp.issuer },
      roles: { approver: ['dba-leads'], auditor: ['audit'], admin: ['platform'] },
    },
    reviews: { timeout: '2m' },
    connections: {
      app: pgConnection(pg, {
        allow: ['dba'],
        policy: {
          deny: [{ name: 'no-drops', statements: ['drop_table', 'truncate', 'delete_without_where'] }],
          review: [{ name: 'updates-need-review', statements: ['update'], approvers: ['dba-leads'] }],
        },
      }),
      'web-01': await sshConnection(sshd, { allow: ['ops'] }),
    },
  });
  aliceKey = await makeClientKey('alice');
  await registerKey(gw.gw.store, aliceKey, 'alice', ['dba', 'ops']);

  // Recorded activity: alice's SQL (one statement denied), bob's SQL, alice's interactive shell.
  const alice = await gw.token('alice', ['dba', 'ops']);
  const r = await psql({ port: gw.pgPort, user: 'alice', password: alice, database: 'app' }, ['-v', 'ON_ERROR_STOP=0', '-c', REPORT_SQL, '-c', 'DELETE FROM customers']);
  expect(r.stdout).toContain('Ada Lovelace');
  const bob = await gw.token('bob', ['dba']);
  expect((await psql({ port: gw.pgPort, user: 'bob', password: bob, database: 'app' }, ['-c', 'SELECT count(*) AS bobs_count FROM customers'])).code).toBe(0);
  await recordShell();
  if (chromiumPath()) browser = await launchChromium();
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await gw?.stop();
  await Promise.all([pg?.stop(), sshd?.stop(), idp?.stop(), aliceKey?.remove()]);
});

/** A shell with a pause between two commands, so the replay has a clear "before" and "after". */
async function recordShell(): Promise<void> {
  const since = Date.now();
  const client = await gatewayClient(gw.sshPort, 'alice+web-01', { privateKey: readFileSync(aliceKey.file, 'utf8') });
  const ch = await new Promise<ClientChannel>((resolve, reject) => client.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, c) => (err ? reject(err) : resolve(c))));
  const out = collect(ch);
  // A shell that is still starting may drop what is typed: type until the answer shows.
  await waitFor(async () => {
    ch.write(`echo first-${marker}\r`);
    await new Promise((r) => setTimeout(r, 300));
    return out.text().includes(`\rfirst-${marker}\r\n`);
  }, { timeoutMs: 10_000, description: 'the first command to run' });
  await new Promise((r) => setTimeout(r, 2500));
  ch.write(`echo second-${marker}\r`);
  await out.waitFor(`\rsecond-${marker}\r\n`);
  ch.write('exit\r');
  await new Promise((r) => ch.on('close', r));
  client.end();
  const s = await endedSession(gw.gw.store, 'alice', since);
  sshSession = s.id;
  sshEvents = await sessionEvents(gw.gw.store, s.id);
}

/** expect.poll with room for a loaded machine (its default gives up after 1 s). */
const poll = <T>(fn: () => T | Promise<T>) => expect.poll(fn, { timeout: 10_000 });

/** A page signed in by pasting a gateway token into the login form. */
async function signedIn(subject: string, groups: string[]): Promise<Page> {
  const context = await loopbackContext(browser);
  const page = await context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${api}/`);
  await page.waitForSelector('#token-form');
  await page.fill('#token', await gw.token(subject, groups));
  await page.click('#token-form button[type=submit]');
  await poll(() => page.textContent('#whoami').catch(() => null)).toBe(subject);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

const screenText = (page: Page) => page.locator('#replay .xterm-rows').innerText();

describe.skipIf(!chromiumPath())('web console in headless Chromium', () => {
  it('login page: the configured provider and the token form; a bad token is refused with a reason; sign-out ends the session', async () => {
    const context = await loopbackContext(browser);
    try {
      const page = await context.newPage();
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${api}/sessions`);
      await page.waitForSelector('#token-form');
      await page.waitForSelector('#login-oidc');
      expect(await page.getAttribute('#login-oidc', 'href')).toBe('/auth/oidc/login');
      expect(await page.locator('#login-saml').count()).toBe(0);
      await shot(page, 'login');
      await page.fill('#token', 'alk_not_a_real_token');
      await page.click('#token-form button[type=submit]');
      await poll(() => page.textContent('#login-error').catch(() => null)).toBe('That token is not valid (unknown, expired or revoked).');
      await page.fill('#token', await gw.token('alice', ['dba', 'ops']));
      await page.click('#token-form button[type=submit]');
      await poll(() => page.textContent('#whoami').catch(() => null)).toBe('alice');
      const cookie = (await context.cookies(api)).find((c) => c.name === 'airlock_session')!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      await page.click('#sign-out');
      await page.waitForSelector('#token-form');
      const me = await fetch(`${api}/api/me`, { headers: { cookie: `airlock_session=${cookie.value}` } });
      expect(me.status).toBe(401);
    } finally {
      await context.close();
    }
  });

  it('finds a session by a statement\'s text and opens its timeline: statement, outcome, result table, the denial inline, a verified seal', async () => {
    const page = await signedIn('alice', ['dba', 'ops']);
    try {
      await page.fill('#search', 'zebracorn');
      await page.press('#search', 'Enter');
      await page.waitForSelector('#hits tbody tr');
      expect(page.url()).toBe(`${api}/sessions?search=zebracorn`);
      const rows = page.locator('#hits tbody tr');
      expect(await rows.count()).toBe(1);
      expect(await rows.first().innerText()).toContain('alice');
      expect(await rows.first().locator('mark').innerText()).toBe('zebracorn');
      await shot(page, 'sessions-search');
      await rows.first().click();
      await page.waitForSelector('#timeline');
      expect(page.url()).toMatch(new RegExp(`^${api}/sessions/[^/?]+\\?seq=\\d+$`));

      const statement = page.locator('#timeline li', { hasText: 'zebracorn' });
      await poll(() => statement.getAttribute('class')).toContain('focus');
      expect(await statement.locator('.outcome').innerText()).toBe('ALLOWED');
      expect(await statement.locator('.result th').allInnerTexts()).toEqual(['id', 'full_name', 'email', 'plan']);
      expect(await statement.locator('.result tbody tr').count()).toBe(3);
      // The result as recorded: masked (the default stored masking hides names and e-mail addresses).
      expect((await statement.locator('.result tbody tr').nth(2).innerText()).split('\t')).toEqual(['3', '[NAME]', '[EMAIL]', 'enterprise']);
      expect(await statement.locator('.meta').last().innerText()).toMatch(/\d/);
      expect(await statement.innerText()).toContain('SELECT 3');
      const denial = page.locator('#timeline li.ev-denied');
      expect(await denial.innerText()).toContain('DELETE FROM customers');
      expect(await denial.innerText()).toContain('no-drops');
      await poll(() => page.textContent('#seal')).toBe('✓ verified · sealed');
      // A user: no export, no review queue, no tokens page.
      expect(await page.locator('#export').count()).toBe(0);
      expect(await page.locator('a[href="/reviews"]').count()).toBe(0);
      expect(await page.locator('a[href="/tokens"]').count()).toBe(0);
    } finally {
      await page.context().close();
    }
  });

  it('replays the SSH shell: the terminal at a chosen instant, the next command, and playing to the end', async () => {
    const start = (await gw.gw.store.getSession(sshSession))!.startedAt;
    const at = (e: StoredEvent) => Math.round(e.time - start);
    const outputs = sshEvents.filter((e) => e.type === 'ssh.output');
    const lastFirst = outputs.filter((e) => String(e.data.data).includes(`first-${marker}`)).at(-1)!;
    const firstSecond = outputs.find((e) => String(e.data.data).includes(`second-${marker}`))!;
    expect(at(firstSecond) - at(lastFirst)).toBeGreaterThan(2000);
    const between = Math.round((at(lastFirst) + at(firstSecond)) / 2);

    const page = await signedIn('alice', ['dba', 'ops']);
    try {
      await page.goto(`${api}/sessions/${sshSession}`);
      await page.waitForSelector('#replay .xterm-rows');
      await page.waitForSelector('#replay[data-rendered="0"]');
      expect(await screenText(page)).not.toContain(marker);

      await page.fill('#replay-seek', String(between));
      await page.waitForSelector(`#replay[data-rendered="${between}"]`);
      const middle = await screenText(page);
      expect(middle).toContain(`first-${marker}`);
      expect(middle).not.toContain(`second-${marker}`);
      await shot(page, 'ssh-replay');

      // Next command: from the pause, the `echo second-…` line typed after it.
      const secondLine = sshEvents.find((e) => e.type === 'ssh.shell.line' && String(e.data.line).includes(`second-${marker}`))!;
      await page.click('#replay-next');
      await page.waitForSelector(`#replay[data-rendered="${at(secondLine)}"]`);
      expect(await page.locator('#replay-commands tr.current').innerText()).toContain(`echo second-${marker}`);

      // Play from the start at 8×: it ends paused at the end with both outputs on screen.
      await page.fill('#replay-seek', '0');
      await page.selectOption('#replay-speed', '8');
      // Every state the player passes through (at 8× a loaded machine can reach the end before a read of it).
      await page.evaluate(() => {
        const el = document.querySelector('#replay')!;
        const states: string[] = [];
        (window as unknown as { replayStates: string[] }).replayStates = states;
        new MutationObserver(() => states.push(el.getAttribute('data-state') ?? '')).observe(el, { attributes: true, attributeFilter: ['data-state'] });
      });
      await page.click('#replay-play');
      await page.waitForFunction(() => (window as unknown as { replayStates: string[] }).replayStates.includes('paused'), null, { timeout: 15_000 });
      expect(await page.evaluate(() => (window as unknown as { replayStates: string[] }).replayStates)).toEqual(['playing', 'paused']);
      const end = await page.getAttribute('#replay-seek', 'max');
      await page.waitForSelector(`#replay[data-rendered="${end}"]`);
      expect(await screenText(page)).toMatch(new RegExp(`first-${marker}[\\s\\S]*second-${marker}`));
      expect(await page.textContent('#replay-position')).toMatch(/^00:0\d \/ 00:0\d$/);

      await page.click('#tab-events');
      await page.waitForSelector('#timeline');
      expect(await page.locator('#timeline li', { hasText: `echo second-${marker}` }).count()).toBe(1);
    } finally {
      await page.context().close();
    }
  });

  it('approves a held UPDATE from the review queue while psql waits; the queue updates without a reload', async () => {
    const page = await signedIn('carol', ['dba-leads']);
    try {
      await page.click('a[href="/reviews"]');
      await page.waitForSelector('#queue-state.on');
      await page.waitForSelector('#queue-empty');
      const alice = await gw.token('alice', ['dba', 'ops']);
      const waiting = psql({ port: gw.pgPort, user: 'alice', password: alice, database: 'app' }, [
        '-v', 'ON_ERROR_STOP=0', '-c', `SELECT id, full_name, email, plan FROM customers WHERE plan <> 'gazelle' ORDER BY id`, '-c', 'DELETE FROM customers',
        '-c', `UPDATE customers SET note = 'renewed' WHERE id = 1`,
      ]);
      let done = false;
      void waiting.then(() => (done = true));

      const card = page.locator('#pending .review');
      await card.waitFor({ timeout: 10_000 });
      expect(await card.locator('.review-text').innerText()).toBe(`UPDATE customers SET note = 'renewed' WHERE id = 1`);
      const who = await card.locator('.who').innerText();
      expect(who).toContain('alice');
      expect(who).toContain('app');
      expect(who).toContain('updates-need-review');
      expect(done).toBe(false);

      // The approver (not an auditor) sees what led up to the statement, through the review.
      await card.locator('details.review-context summary').click();
      const context = card.locator('details.review-context pre');
      await context.waitFor({ timeout: 10_000 });
      expect(await context.innerText()).toContain('DELETE FROM customers');
      await card.locator('input.reason').fill('renewal confirmed by sales');
      await card.locator('select.window').selectOption('15m');
      await card.locator('button.approve').click();
      const r = await waiting;
      expect(r.stdout).toContain('UPDATE 1');
      await page.waitForSelector('#queue-empty');
      const decided = page.locator('#decided .review').first();
      expect(await decided.locator('.outcome').innerText()).toBe('APPROVED');
      expect(await decided.innerText()).toContain('renewal confirmed by sales');
      expect(await decided.innerText()).toContain('identical statements pass until');
      expect(await pg.sql('SELECT note FROM customers WHERE id = 1')).toBe('renewed');
      // Approved for 15 minutes: the same statement passes again without a new request.
      const again = await psql({ port: gw.pgPort, user: 'alice', password: alice, database: 'app' }, ['-c', `UPDATE customers SET note = 'renewed' WHERE id = 1`]);
      expect(again.stdout).toContain('UPDATE 1');
      expect(await page.locator('#pending .review').count()).toBe(0);
    } finally {
      await page.context().close();
    }
  });

  it('the timeline shows the hold and the decision inline, between the statements around them (auditor view)', async () => {
    const page = await signedIn('irene', ['audit']);
    try {
      await page.goto(`${api}/sessions?search=gazelle`);
      await page.locator('#hits tbody tr').first().click();
      await page.waitForSelector('#timeline');
      const items = page.locator('#timeline > li');
      await poll(() => items.count()).toBe(7);
      const outcomes = (await page.locator('#timeline > li .outcome').allInnerTexts()).map((o) => o.toLowerCase());
      expect(outcomes).toEqual(['info', 'allowed', 'denied', 'held', 'approved', 'allowed', 'info']);
      expect(await items.nth(3).innerText()).toContain(`UPDATE customers SET note = 'renewed' WHERE id = 1`);
      expect(await items.nth(3).innerText()).toContain('updates-need-review');
      expect(await items.nth(4).innerText()).toContain('Review approved by carol: “renewal confirmed by sales”');
      expect(await items.nth(5).innerText()).toContain('UPDATE 1');
      expect(await page.isVisible('#export')).toBe(true);
      await poll(() => page.textContent('#seal')).toBe('✓ verified · sealed');
      await shot(page, 'sql-timeline');
    } finally {
      await page.context().close();
    }
  });

  it('a request decided elsewhere leaves the queue live', async () => {
    const page = await signedIn('carol', ['dba-leads']);
    try {
      await page.goto(`${api}/reviews`);
      await page.waitForSelector('#queue-state.on');
      const alice = await gw.token('alice', ['dba', 'ops']);
      const waiting = psql({ port: gw.pgPort, user: 'alice', password: alice, database: 'app' }, ['-c', `UPDATE customers SET plan = 'team' WHERE id = 2`]);
      const card = page.locator('#pending .review');
      await card.waitFor({ timeout: 10_000 });
      // The approval of the previous test is still listed after a fresh page load.
      expect(await page.locator('#decided .review').first().innerText()).toContain('renewal confirmed by sales');
      await shot(page, 'review-queue');
      const id = (await card.getAttribute('data-review'))!;
      const dave = await gw.token('dave', ['dba-leads']);
      const res = await fetch(`${api}/api/reviews/${id}/deny`, { method: 'POST', headers: { authorization: `Bearer ${dave}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'not today' }) });
      expect(res.status).toBe(200);
      await page.waitForSelector('#queue-empty');
      expect(await page.locator(`#decided [data-review="${id}"]`).innerText()).toContain('not today');
      expect((await waiting).code).not.toBe(0);
    } finally {
      await page.context().close();
    }
  });

  it('an open session is marked live and tailed: statements appear as they run, then its end', async () => {
    const page = await signedIn('alice', ['dba', 'ops']);
    const client = new pgClient.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'alice', password: await gw.token('alice', ['dba', 'ops']), database: 'app' });
    try {
      await client.connect();
      await page.goto(`${api}/sessions?open=true`);
      const row = page.locator('#sessions tbody tr', { hasText: 'alice' });
      await row.waitFor();
      expect(await row.locator('.badge').innerText()).toBe('live');
      await row.click();
      await page.waitForSelector('#live-badge');
      await client.query(`SELECT 'tailed-${marker}' AS tail`);
      await page.locator('#timeline li', { hasText: `tailed-${marker}` }).locator('.result').waitFor({ timeout: 10_000 });
      await client.end();
      await page.waitForSelector('#live-badge', { state: 'detached', timeout: 10_000 });
      expect(await page.locator('#timeline li').last().innerText()).toContain('Session ended');
    } finally {
      await client.end().catch(() => {});
      await page.context().close();
    }
  });

  it('an open shell is followed live in the replay', async () => {
    const page = await signedIn('alice', ['dba', 'ops']);
    const client = await gatewayClient(gw.sshPort, 'alice+web-01', { privateKey: readFileSync(aliceKey.file, 'utf8') });
    try {
      const ch = await new Promise<ClientChannel>((resolve, reject) => client.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, c) => (err ? reject(err) : resolve(c))));
      const out = collect(ch);
      await waitFor(async () => {
        ch.write(`echo ready-${marker}\r`);
        await new Promise((r) => setTimeout(r, 300));
        return out.text().includes(`\rready-${marker}\r\n`);
      }, { timeoutMs: 10_000, description: 'the shell to answer' });
      await page.goto(`${api}/sessions?open=true&protocol=ssh`);
      await page.locator('#sessions tbody tr').first().click();
      await page.waitForSelector('#live-badge');
      await page.waitForSelector('#replay .xterm-rows');
      await poll(() => screenText(page)).toContain(`ready-${marker}`);
      expect(await page.isChecked('#replay-follow')).toBe(true);
      ch.write(`echo live-${marker}\r`);
      await poll(() => screenText(page)).toMatch(new RegExp(`\\nlive-${marker}`));
      ch.write('exit\r');
      await new Promise((r) => ch.on('close', r));
      // The session is the SSH connection: it ends when the client disconnects.
      client.end();
      await page.waitForSelector('#live-badge', { state: 'detached', timeout: 10_000 });
    } finally {
      client.end();
      await page.context().close();
    }
  });

  it('a user sees only their own sessions; an auditor sees everyone\'s, with the user filter and export', async () => {
    const user = await signedIn('bob', ['dba']);
    try {
      await user.waitForSelector('#sessions tbody tr');
      const subjects = await user.locator('#sessions tbody tr td:nth-child(3)').allInnerTexts();
      expect(new Set(subjects)).toEqual(new Set(['bob']));
      expect(await user.locator('#filter-user').count()).toBe(0);
      expect(await user.textContent('.content')).toContain('You see your own sessions.');
      await user.click('a[href="/connections"]');
      await user.waitForSelector('#connections tbody tr');
      expect(await user.locator('#connections tbody tr td:first-child').allInnerTexts()).toEqual(['app']);
      await user.goto(`${api}/sessions/${sshSession}`);
      await user.waitForSelector('.content .error');
      expect(await user.textContent('.content .error')).toContain(`no session ${sshSession}`);
    } finally {
      await user.context().close();
    }

    const auditor = await signedIn('irene', ['audit']);
    try {
      await auditor.waitForSelector('#sessions tbody tr');
      const subjects = new Set(await auditor.locator('#sessions tbody tr td:nth-child(3)').allInnerTexts());
      expect(subjects).toEqual(new Set(['alice', 'bob']));
      await shot(auditor, 'sessions');
      expect(await auditor.locator('a[href="/reviews"]').count()).toBe(0);
      expect(await auditor.locator('a[href="/tokens"]').count()).toBe(0);
      await auditor.fill('#filter-user', 'bob');
      await auditor.press('#filter-user', 'Tab');
      await poll(() => auditor.locator('#sessions tbody tr td:nth-child(3)').allInnerTexts()).toEqual(['bob']);
      expect(auditor.url()).toBe(`${api}/sessions?user=bob`);
      await auditor.goto(`${api}/sessions?protocol=ssh`);
      await auditor.locator(`#sessions tbody tr[data-session="${sshSession}"]`).click();
      await auditor.waitForSelector('#export');
      const [download] = await Promise.all([auditor.waitForEvent('download'), auditor.click('#export')]);
      expect(download.suggestedFilename()).toContain(sshSession);
    } finally {
      await auditor.context().close();
    }
  });

  it('an admin ends a live session from its page: psql is disconnected, the end reason names the admin', async () => {
    const page = await signedIn('root', ['platform']);
    const client = new pgClient.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'bob', password: await gw.token('bob', ['dba']), database: 'app' });
    const clientError = new Promise<Error>((resolve) => client.on('error', resolve));
    try {
      await client.connect();
      await client.query('SELECT 1');
      const id = await waitFor(async () => (await gw.gw.store.listSessions({ user: 'bob', open: true }))[0]?.id);
      page.once('dialog', (d) => void d.accept('suspicious activity'));
      await page.goto(`${api}/sessions/${id}`);
      await page.waitForSelector('#live-badge');
      await page.click('#terminate');
      await page.waitForSelector('#live-badge', { state: 'detached', timeout: 15_000 });
      expect((await clientError).message).toContain('Airlock: the session was terminated by root: suspicious activity');
      await poll(() => page.locator('.facts').innerText()).toContain('terminated by root: suspicious activity');
      expect((await gw.gw.store.listAudit({ target: id })).some((a) => a.action === 'session.terminate' && a.subject === 'root')).toBe(true);
    } finally {
      await client.end().catch(() => {});
      await page.context().close();
    }
  });

  it('admins manage tokens: issue (the secret shown once, and it works), list, revoke', async () => {
    const page = await signedIn('root', ['platform']);
    try {
      await page.click('a[href="/tokens"]');
      await page.waitForSelector('#tokens');
      await page.fill('#token-subject', 'ci-deploy');
      await page.fill('#token-groups', 'agents, deployers');
      await page.fill('#token-ttl', '1h');
      await page.click('#issue-token button[type=submit]');
      const secret = (await page.locator('#issued-token code').innerText()).trim();
      expect(secret).toMatch(/^alk_/);
      const me = await fetch(`${api}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
      expect(await me.json()).toMatchObject({ subject: 'ci-deploy', groups: ['agents', 'deployers'] });
      const row = page.locator('#tokens tbody tr', { hasText: 'ci-deploy' });
      await row.locator('button', { hasText: 'Revoke' }).click();
      await poll(() => row.locator('td').nth(5).innerText()).toBe('revoked');
      expect((await fetch(`${api}/api/me`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(401);
    } finally {
      await page.context().close();
    }
  });
});
