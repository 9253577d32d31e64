import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client, ClientChannel } from 'ssh2';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import { runCli } from '../harness/cli.ts';
import { replayCommand } from '../../src/cli/replay.ts';
import { collect, endedSession, gatewayClient, makeClientKey, registerKey, sessionEvents, ssh, sshConnection, type ClientKey } from './helpers.ts';

/**
 * Typed-line, script and exec checks against the real sshd, with the gateway's own review service (decided
 * over its API by an approver; the requester may not approve their own line). Marker files stand in for
 * forbidden commands.
 */

let sshd: SshdServer;
let gw: TestGateway;
let alice: ClientKey;
let agent: ClientKey;
let configDir: string;
let configFile: string;
const files: string[] = [];
const marker = (prefix: string) => {
  const f = `/tmp/${prefix}-${randomBytes(4).toString('hex')}`;
  files.push(f);
  return f;
};

beforeAll(async () => {
  sshd = await startSshd();
  const connections = {
      'web-01': await sshConnection(sshd, {
        policy: {
          deny: [{ name: 'no-forbidden', commands: ['touch /tmp/airlock-forbidden*'] }],
          review: [{ name: 'held-touch', commands: ['touch /tmp/airlock-held*'], approvers: ['ops-leads'] }],
        },
      }),
      // Unknown lines allowed: what still holds when an operator chooses that.
      'web-lax': await sshConnection(sshd, {
        policy: { deny: [{ name: 'no-forbidden', commands: ['touch /tmp/airlock-forbidden*'], onUnknown: 'allow' }] },
      }),
      'agent-01': await sshConnection(sshd, {
        allow: ['agents'],
        policy: { allow: ['ls *', 'echo *', 'cat /etc/hostname'] },
      }),
  };
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0', api: '127.0.0.1:0' },
    identity: { roles: { approver: ['ops-leads'] } },
    reviews: { timeout: '20s' },
    connections,
  });
  configDir = mkdtempSync(join(tmpdir(), 'airlock-cfg-'));
  configFile = join(configDir, 'airlock.yaml');
  writeFileSync(configFile, JSON.stringify({ dataDir: gw.dataDir, listen: { api: `127.0.0.1:${gw.gw.listeners.get('api')!.port}` }, connections }), { mode: 0o600 });
  [alice, agent] = await Promise.all([makeClientKey('alice'), makeClientKey('agent')]);
  // alice may approve too: the review service must still refuse her own lines.
  await registerKey(gw.gw.store, alice, 'alice', ['ops', 'ops-leads']);
  await registerKey(gw.gw.store, agent, 'bot', ['agents'], 'service');
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await Promise.all([alice, agent].map((k) => k?.remove()));
  for (const f of files) rmSync(f, { force: true });
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

async function api(token: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const port = gw.gw.listeners.get('api')!.port;
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** The pending review whose text contains `needle`. */
async function pendingReview(token: string, needle: string): Promise<{ id: string; text: string; visibleText: string }> {
  return waitFor(
    async () => ((await api(token, 'GET', '/api/reviews?status=pending')).json.reviews as { id: string; text: string; visibleText: string }[]).find((r) => r.text.includes(needle)),
    { description: `a pending review of ${needle}` },
  );
}

interface Shell {
  client: Client;
  ch: ClientChannel;
  out: ReturnType<typeof collect>;
  err: ReturnType<typeof collect>;
  exit: Promise<number>;
}

/** A PTY shell through the gateway (bash with its default key bindings), ready for input. */
async function shell(connection = 'web-01'): Promise<Shell> {
  const client = await gatewayClient(gw.sshPort, `alice+${connection}`, { privateKey: readFileSync(alice.file, 'utf8') });
  const ch = await new Promise<ClientChannel>((resolve, reject) => client.shell({ term: 'xterm' }, (err, c) => (err ? reject(err) : resolve(c))));
  const out = collect(ch);
  const err = collect(ch.stderr);
  const exit = new Promise<number>((resolve) => ch.on('exit', (c: number | null) => resolve(c ?? -1)));
  await waitFor(async () => {
    ch.write('echo read$((40+2))y\r');
    await new Promise((r) => setTimeout(r, 300));
    return out.text().includes('read42y');
  }, { timeoutMs: 10_000, description: 'the shell to answer' });
  return { client, ch, out, err, exit };
}

describe('a line held for review in a terminal', () => {
  it('never reaches the shell when denied, whatever is typed after it (two Enters, leading spaces)', async () => {
    const file = marker('airlock-held');
    const typedAhead = marker('airlock-ahead');
    const since = Date.now();
    const sh = await shell();
    sh.ch.write(`  touch ${file}\r\r`);
    await new Promise((r) => setTimeout(r, 200));
    sh.ch.write(`touch ${typedAhead}\r\r`);
    const review = await pendingReview(await gw.token('lena', ['ops-leads']), file);
    expect(review.text).toBe(`  touch ${file}`);
    // The requester may not decide her own line, even in the approver group.
    expect((await api(await gw.token('alice', ['ops', 'ops-leads']), 'POST', `/api/reviews/${review.id}/approve`, {})).status).toBe(403);
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
    expect(existsSync(typedAhead)).toBe(false);
    expect((await api(await gw.token('lena', ['ops-leads']), 'POST', `/api/reviews/${review.id}/deny`, { reason: 'not now' })).status).toBe(200);
    await sh.err.waitFor('the shell is closed, so the denied line never runs');
    expect(await sh.exit).toBe(255);
    sh.client.end();
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(file)).toBe(false);
    expect(existsSync(typedAhead)).toBe(false);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'review.decided')?.data).toMatchObject({ approved: false, reviewer: 'lena' });
    expect(events.find((e) => e.type === 'ssh.shell.line' && e.outcome === 'denied')?.data.line).toBe(`  touch ${file}`);
    expect(events.some((e) => e.type === 'ssh.shell.closed')).toBe(true);
  });

  it('runs when approved, and what was typed meanwhile runs after it', async () => {
    const file = marker('airlock-held');
    const sh = await shell();
    sh.ch.write(`touch ${file}\recho after-$((1+1))\r`);
    const review = await pendingReview(await gw.token('lena', ['ops-leads']), file);
    await new Promise((r) => setTimeout(r, 300));
    expect(sh.out.text()).not.toContain('after-2');
    await api(await gw.token('lena', ['ops-leads']), 'POST', `/api/reviews/${review.id}/approve`, {});
    await sh.out.waitFor('after-2');
    expect(existsSync(file)).toBe(true);
    sh.ch.write('exit 7\r');
    expect(await sh.exit).toBe(7);
    sh.client.end();
  });
});

describe('typed lines in a terminal cannot switch checks off', () => {
  it('checks, and does not store, a line typed after a password-like prompt (PS1)', async () => {
    const file = marker('airlock-forbidden');
    const since = Date.now();
    const sh = await shell();
    sh.ch.write("PS1='Password: '\r");
    await sh.out.waitFor(/Password: $/);
    sh.ch.write('echo sec$((1+2))ret\r');
    await sh.out.waitFor('sec3ret');
    sh.ch.write(`touch ${file}\r`);
    expect(await sh.exit).toBe(255);
    sh.client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    const hidden = events.filter((e) => e.type === 'ssh.shell.line' && e.data.hidden === true);
    expect(hidden.map((e) => e.outcome)).toEqual(['allowed', 'denied']);
    expect(hidden[0]?.data.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(hidden[0]?.data.line).toBeUndefined();
  });

  it('still checks lines after the alternate screen is switched on', async () => {
    const file = marker('airlock-forbidden');
    const sh = await shell();
    sh.ch.write("printf '\\e[?1049h'; echo alt-on\r");
    await sh.out.waitFor('alt-on');
    // An Enter alone is no line, in a full-screen program too.
    let exited = false;
    void sh.exit.then(() => (exited = true));
    sh.ch.write('\r\r');
    await new Promise((r) => setTimeout(r, 500));
    expect(exited).toBe(false);
    sh.ch.write(`touch ${file}\r`);
    expect(await sh.exit).toBe(255);
    sh.client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
  });

  it('takes ^U in pasted text as unknown, not as an edit (what the editor does with it is not known)', async () => {
    const file = marker('airlock-other');
    const since = Date.now();
    const sh = await shell();
    sh.ch.write(`\x1b[200~touch ${file}\x15echo harmless\x1b[201~\r`);
    expect(await sh.exit).toBe(255);
    sh.client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.shell.line' && e.outcome === 'denied')?.data).toMatchObject({
      unknown: 'control characters in pasted text', keys: `\\e[200~touch ${file}^Uecho harmless\\e[201~\\r`,
    });
  });

  it('does not let ^O (operate-and-get-next) run a line without its Enter', async () => {
    const file = marker('airlock-forbidden');
    const sh = await shell();
    sh.ch.write(`touch ${file}\x0f`);
    expect(await sh.exit).toBe(255);
    sh.client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
  });

  it('does not take text abandoned by ^C for gone when `stty intr undef` kept it', async () => {
    const file = marker('airlock-forbidden');
    const sh = await shell('web-lax');
    sh.ch.write('stty intr undef\r');
    sh.ch.write('echo stty-$((2+2))\r');
    await sh.out.waitFor('stty-4');
    sh.ch.write(`touch ${file.slice(0, -3)}\x03${file.slice(-3)}\r`);
    const timedOut = new Promise<string>((r) => setTimeout(() => r('still open'), 5_000));
    expect(await Promise.race([sh.exit, timedOut])).toBe(255);
    sh.client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
  });
});

describe('scripts without a terminal', () => {
  it('decides unknown lines by onUnknown: trailing ^U, ESC, DEL, and lines over 16 KiB are not run', async () => {
    const files3 = [marker('airlock-x'), marker('airlock-x'), marker('airlock-x'), marker('airlock-x')];
    const long = `touch ${files3[3]} #${'x'.repeat(17 * 1024)}`;
    const input = `echo\tone\ntouch ${files3[0]}\x15\ntouch ${files3[1]}\x1b\ntouch ${files3[2]}\x7f\n${long}\necho two\n`;
    const r = await ssh(gw, alice, 'alice+web-01', ['-T', ''], { input });
    expect(r.stdout).toBe('one\ntwo\n');
    expect(r.stderr.match(/Airlock: /g)?.length).toBe(4);
    for (const f of files3) expect(existsSync(f)).toBe(false);
  });

  it('checks a script a shell reads from the exec channel (ssh host bash < script)', async () => {
    const file = marker('airlock-forbidden');
    const r = await ssh(gw, alice, 'alice+web-01', ['bash'], { input: `echo one\ntouch ${file}\necho two\n` });
    expect(r.stdout).toBe('one\ntwo\n');
    expect(r.stderr).toContain('Airlock: ');
    expect(existsSync(file)).toBe(false);
  });
});

describe('exec requests', () => {
  const variants = (f: string) => [
    `$"touch" ${f}`, `t$@ouch ${f}`, `tou$()ch ${f}`, `t\${unset}ouch ${f}`, `/usr/bin/tou?h ${f}`, `/usr/bin/{touch,true} ${f}`,
    `script -qc 'touch ${f}' /dev/null`, `sh <<EOF\ntouch ${f}\nEOF`, `echo touch ${f} | sh -s`, `sh -c 'touch "$0"' ${f}`,
    `f=${f}; touch "$f"`, `echo ${f} | xargs touch`, `find /tmp -maxdepth 0 -exec touch ${f} \\;`, `python3 -c 'open("${f}", "w")'`,
  ];
  it('does not run a command it cannot resolve to a literal', async () => {
    const f = marker('airlock-forbidden');
    for (const cmd of variants(f)) {
      const r = await ssh(gw, alice, 'alice+web-01', [cmd]);
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 126 });
      expect(existsSync(f)).toBe(false);
    }
  });
});

describe('an allow-list connection (what an agent uses)', () => {
  it('runs listed commands only, and refuses an interactive terminal', async () => {
    const f = marker('airlock-agent');
    expect(await ssh(gw, agent, 'bot+agent-01', ['echo listed'])).toMatchObject({ code: 0, stdout: 'listed\n' });
    for (const cmd of [`touch ${f}`, `echo x > ${f}`, `ls; touch ${f}`, `ls $(touch ${f})`, `/tmp/ls`, `echo ${f} | xargs touch`]) {
      const r = await ssh(gw, agent, 'bot+agent-01', [cmd]);
      expect({ cmd, code: r.code }).toEqual({ cmd, code: 126 });
      expect(r.stderr).toMatch(/allow list/);
    }
    expect(existsSync(f)).toBe(false);
    const tty = await ssh(gw, agent, 'bot+agent-01', ['-tt', ''], { input: 'exit\n' });
    expect(tty.code).toBe(126);
    expect(tty.stdout + tty.stderr).toContain('interactive terminal is refused');
    const script = await ssh(gw, agent, 'bot+agent-01', ['-T', ''], { input: `echo fine\ntouch ${f}\n` });
    expect(script.stdout).toBe('fine\n');
    expect(existsSync(f)).toBe(false);
  });
});

describe('what auditors and approvers are shown', () => {
  it('replay and sessions show neutralise recorded escape sequences (clear, OSC 52, forged lines)', async () => {
    const since = Date.now();
    const evil = String.raw`printf '[2J]52;c;aGVsbG8=[1A[2K   +0.001s #1 DENIED by nothing
'`;
    expect((await ssh(gw, alice, 'alice+web-01', [evil])).code).toBe(0);
    const id = (await endedSession(gw.gw.store, 'alice', since)).id;
    const show = await runCli(['sessions', 'show', id, '--config', configFile]);
    expect(show.code).toBe(0);
    expect(show.out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(show.out).toContain(']52;c;aGVsbG8=');
    // A denied command's own text (and a statement's) is printed as recorded text, not as terminal input.
    const since2 = Date.now();
    expect((await ssh(gw, alice, 'alice+web-01', [`touch ${marker('airlock-forbidden')} #\x1b[2J\x1b]52;c;aGk=\x07`])).code).toBe(126);
    const denied = await runCli(['sessions', 'show', (await endedSession(gw.gw.store, 'alice', since2)).id, '--config', configFile]);
    expect(denied.out).toContain('DENIED by no-forbidden');
    expect(denied.out).toContain('#\\e[2J\\e]52;c;aGk=^G');
    expect(denied.out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const raw: Buffer[] = [];
    const lines: string[] = [];
    const code = await replayCommand([id, '--speed', '0', '--config', configFile], { out: (l) => lines.push(l), err: () => {} }, { raw: (b) => raw.push(b), sleep: async () => {} });
    expect(code).toBe(0);
    const played = Buffer.concat(raw).toString('utf8');
    expect(played).toContain('\\e[2J\\e]52;c;aGVsbG8=^G\\e[1A');
    expect(played).not.toMatch(/\x1b(?!\[(?:[0-9;:]*m|[0-2]?K|[0-9]*[CDG]|\?25h))/);
    expect(lines.join('\n')).not.toContain('\x1b');
  });

  it('shows a held command whole, with its escape sequences visible, in reviews list and the API', async () => {
    const file = marker('airlock-held');
    const tail = ` #${'x'.repeat(150)}\x1b[200D\x1b[Kls`;
    const pending = ssh(gw, alice, 'alice+web-01', [`touch ${file}${tail}`]);
    const lena = await gw.token('lena', ['ops-leads']);
    const review = await pendingReview(lena, file);
    expect(review.visibleText).toBe(`touch ${file} #${'x'.repeat(150)}\\e[200D\\e[Kls`);
    const list = await runCli(['reviews', 'list', '--token', lena, '--config', configFile]);
    expect(list.out).toContain(review.visibleText);
    expect(list.out).not.toContain('\x1b');
    await api(lena, 'POST', `/api/reviews/${review.id}/deny`, { reason: 'hidden text' });
    expect((await pending).code).toBe(126);
    expect(existsSync(file)).toBe(false);
  });
});
