import { existsSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientChannel } from 'ssh2';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import type { ReviewGate, ReviewOutcome, ReviewRequest } from '../../src/reviews/types.ts';
import {
  collect, endedSession, gatewayClient, makeClientKey, registerKey, run, sessionEvents, ssh, sshConnection, type ClientKey,
} from './helpers.ts';

/**
 * Types `line` until its result shows: a shell that is still starting (or was just sent Ctrl-C) may
 * discard what is typed in the meantime, which is what a person would see too.
 */
async function untilShown(ch: ClientChannel, out: ReturnType<typeof collect>, line: string, result: string): Promise<void> {
  await waitFor(async () => {
    ch.write(`${line}\r`);
    await new Promise((r) => setTimeout(r, 300));
    return out.text().includes(result);
  }, { timeoutMs: 10_000, description: `${line} to print ${result}` });
}

/**
 * In an interactive shell: shows the shell works, types `touch FILE` (which the policy denies) and another
 * Enter after it, and checks the gateway says so and ends the shell (the line is in the remote editor, so
 * the gateway never sends its Enter and closes the shell instead), with exit status 255.
 */
async function typeForbiddenLine(ch: ClientChannel, file: string): Promise<void> {
  const out = collect(ch);
  const err = collect(ch.stderr);
  await untilShown(ch, out, 'echo $((40+2))', '42');
  const exit = new Promise<number>((resolve) => ch.on('exit', (c: number) => resolve(c)));
  ch.write(`touch ${file}\r\r`);
  await err.waitFor('Airlock: the shell is closed, so the denied line never runs');
  expect(await exit).toBe(255);
}

/** A review gate the test answers by hand, as another identity would. */
class ManualReviews implements ReviewGate {
  readonly pending: { req: ReviewRequest; decide: (o: ReviewOutcome) => void }[] = [];
  request(req: ReviewRequest): Promise<ReviewOutcome> {
    return new Promise((decide) => this.pending.push({ req, decide }));
  }
}

const policy = {
  deny: [
    { name: 'no-rm-root', commands: ['rm -rf /'] },
    { name: 'no-forbidden', commands: ['touch /tmp/airlock-forbidden*'] },
  ],
  review: [{ name: 'reviewed-touch', patterns: ['^touch /tmp/airlock-reviewed'], approvers: ['ops-leads'] }],
};

let sshd: SshdServer;
let gw: TestGateway;
let alice: ClientKey;
let bobKey: ClientKey;
let stranger: ClientKey;
const reviews = new ManualReviews();
const tmpFiles: string[] = [];
const tmpName = (prefix: string) => {
  const f = `/tmp/${prefix}-${randomBytes(4).toString('hex')}`;
  tmpFiles.push(f);
  return f;
};

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startGateway(
    {
      listen: { ssh: '127.0.0.1:0' },
      connections: {
        'web-01': await sshConnection(sshd, { policy }),
        'web-dba': await sshConnection(sshd, { allow: ['dba'] }),
        'pg-thing': { type: 'postgres', host: '127.0.0.1', port: 1, database: 'x', user: 'x', allow: ['ops'] },
      },
    },
    { reviews },
  );
  [alice, bobKey, stranger] = await Promise.all([makeClientKey('alice'), makeClientKey('bob'), makeClientKey('stranger')]);
  await registerKey(gw.gw.store, alice, 'alice', ['ops']);
  await registerKey(gw.gw.store, bobKey, 'bob', ['ops']);
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await Promise.all([alice, bobKey, stranger].map((k) => k?.remove()));
  for (const f of tmpFiles) rmSync(f, { force: true });
});

describe('ssh through the gateway: exec and shells', () => {
  it('runs commands and passes exit codes, stdout, stderr and stdin through', async () => {
    for (const code of [0, 1, 42]) {
      const r = await ssh(gw, alice, 'alice+web-01', [`echo out; echo err >&2; exit ${code}`]);
      expect(r).toMatchObject({ code, stdout: 'out\n', stderr: 'err\n' });
    }
    const cat = await ssh(gw, alice, 'alice+web-01', ['tr a-z A-Z'], { input: 'piped stdin\n' });
    expect(cat).toMatchObject({ code: 0, stdout: 'PIPED STDIN\n' });
  });

  it('records the exec, its output and exit status', async () => {
    const since = Date.now();
    const r = await ssh(gw, alice, 'alice+web-01', ['echo recorded-output; exit 4']);
    expect(r.code).toBe(4);
    const s = await endedSession(gw.gw.store, 'alice', since);
    expect(s).toMatchObject({ connection: 'web-01', authMethod: 'ssh-key', endReason: 'client_disconnected' });
    const events = await sessionEvents(gw.gw.store, s.id);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('session.start');
    expect(types.at(-1)).toBe('session.end');
    expect(events.find((e) => e.type === 'ssh.exec')).toMatchObject({ data: { command: 'echo recorded-output; exit 4', pty: false }, outcome: 'allowed' });
    expect(events.find((e) => e.type === 'ssh.output')?.data).toMatchObject({ stream: 'stdout', data: 'recorded-output\n' });
    expect(events.find((e) => e.type === 'ssh.exit')?.data).toMatchObject({ code: 4, bytesOut: 16 });
    expect(events.find((e) => e.type === 'ssh.target')?.data).toMatchObject({ user: sshd.user, trust: expect.stringMatching(/^tofu/) });
  });

  it('runs an interactive shell through ssh -tt and returns its exit code', async () => {
    const since = Date.now();
    const r = await ssh(gw, alice, 'alice+web-01', ['-tt', ''], { input: 'echo hi; exit 3\n' });
    expect(r.stdout).toMatch(/hi\r\n/);
    expect(r.code).toBe(3);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.shell.start')?.data).toMatchObject({ channel: 1, cols: expect.any(Number) });
    expect(events.find((e) => e.type === 'ssh.shell.line')).toMatchObject({ data: { line: 'echo hi; exit 3' }, outcome: 'allowed' });
    expect(events.filter((e) => e.type === 'ssh.input').map((e) => e.data.data).join('')).toBe('echo hi; exit 3\n');
    expect(events.find((e) => e.type === 'ssh.exit')?.data).toMatchObject({ code: 3 });
  });

  it('forwards window changes to the target PTY and records them', async () => {
    const since = Date.now();
    const client = await gatewayClient(gw.sshPort, 'alice+web-01', { privateKey: readFileSync(alice.file, 'utf8') });
    const ch = await new Promise<ClientChannel>((resolve, reject) =>
      client.shell({ rows: 24, cols: 80, term: 'xterm' }, (err, c) => (err ? reject(err) : resolve(c))),
    );
    const out = collect(ch);
    await untilShown(ch, out, 'stty size', '24 80');
    ch.setWindow(40, 100, 0, 0);
    await waitFor(async () => {
      ch.write('stty size\r');
      await new Promise((r) => setTimeout(r, 100));
      return out.text().includes('40 100');
    }, { timeoutMs: 10_000, description: 'the new size on the target' });
    const exit = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
    ch.write('exit 0\r');
    expect(await exit).toBe(0);
    client.end();
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.shell.start')?.data).toMatchObject({ term: 'xterm', cols: 80, rows: 24 });
    expect(events.find((e) => e.type === 'ssh.resize')?.data).toMatchObject({ cols: 100, rows: 40 });
  });

  it('keeps the recording of non-terminal output to the configured limit', async () => {
    const since = Date.now();
    const r = await ssh(gw, alice, 'alice+web-01', ['head -c 300000 /dev/zero | tr "\\0" a']);
    expect(r.stdout.length).toBe(300_000);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    const stored = events.filter((e) => e.type === 'ssh.output').reduce((n, e) => n + String(e.data.data).length, 0);
    expect(stored).toBe(64 * 1024);
    expect(events.find((e) => e.type === 'ssh.exit')?.data).toMatchObject({ bytesOut: 300_000, truncated: ['stdout'] });
  });
});

describe('ssh through the gateway: identity and access', () => {
  it('refuses a key that is not registered, and a key registered to someone else', async () => {
    const r1 = await ssh(gw, stranger, 'alice+web-01', ['true']);
    expect(r1.code).toBe(255);
    expect(r1.stderr).toContain('Permission denied');
    const r2 = await ssh(gw, bobKey, 'alice+web-01', ['true']);
    expect(r2.code).toBe(255);
    expect(r2.stderr).toContain('Permission denied');
    const r3 = await ssh(gw, alice, 'alice', ['true']);
    expect(r3.code).toBe(255);
  });

  it('lets an agent in with an access token as the password, and never records it', async () => {
    const token = await gw.token('agent-7', ['ops'], { service: true });
    const since = Date.now();
    const client = await gatewayClient(gw.sshPort, 'agent-7+web-01', { password: token });
    const out = await new Promise<string>((resolve, reject) =>
      client.exec('echo from-agent', (err, ch) => {
        if (err) return reject(err);
        let s = '';
        ch.on('data', (d: Buffer) => (s += d));
        ch.on('close', () => resolve(s));
      }),
    );
    client.end();
    expect(out).toBe('from-agent\n');
    const s = await endedSession(gw.gw.store, 'agent-7', since);
    expect(s).toMatchObject({ authMethod: 'token', kind: 'service' });
    expect(JSON.stringify(await sessionEvents(gw.gw.store, s.id))).not.toContain(token);
    await expect(gatewayClient(gw.sshPort, 'agent-7+web-01', { password: 'alk_wrong' })).rejects.toThrow(/authentication/i);
    await expect(gatewayClient(gw.sshPort, 'someone-else+web-01', { password: token })).rejects.toThrow(/authentication/i);
  });

  it('tells a proven identity it may not use a connection (stderr, exit 1), in words that do not tell which names exist', async () => {
    const said = async (name: string) => {
      const r = await ssh(gw, alice, `alice+${name}`, ['true']);
      expect(r.code, name).toBe(1);
      return r.stderr.replaceAll(name, 'NAME');
    };
    const forbidden = await said('web-dba');
    expect(forbidden).toContain('Airlock: connection "NAME" does not exist or you may not use it');
    expect(await said('nope')).toBe(forbidden);
    expect(await said('pg-thing')).toBe(forbidden);
  });

  it('presents the same host key it keeps in the data dir', async () => {
    const pub = readFileSync(`${gw.dataDir}/keys/ssh-host-ed25519.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    const scan = await run('ssh-keyscan', ['-t', 'ed25519', '-p', String(gw.sshPort), '127.0.0.1']);
    expect(scan.stdout).toContain(pub);
  });
});

describe('ssh through the gateway: policy', () => {
  it('denies an exec with exit status 126 and the reason, and records it', async () => {
    const file = tmpName('airlock-forbidden');
    const since = Date.now();
    const r = await ssh(gw, alice, 'alice+web-01', [`touch ${file}`]);
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/^Airlock: .*rule no-forbidden/m);
    expect(existsSync(file)).toBe(false);
    const quoted = await ssh(gw, alice, 'alice+web-01', [`to""uch ${file}`]);
    expect(quoted.code).toBe(126);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'policy.deny')).toMatchObject({ data: { kind: 'exec', rule: 'no-forbidden' }, outcome: 'denied' });
    expect(events.find((e) => e.type === 'ssh.exec')).toMatchObject({ outcome: 'denied' });
  });

  it('holds a reviewed exec until another identity approves it', async () => {
    const file = tmpName('airlock-reviewed');
    const since = Date.now();
    const pending = ssh(gw, alice, 'alice+web-01', [`touch ${file} && echo ran`]);
    await waitFor(() => reviews.pending.length === 1, { description: 'the review request' });
    const { req, decide } = reviews.pending.shift()!;
    expect(req).toMatchObject({ connection: 'web-01', requester: { subject: 'alice' }, command: { protocol: 'ssh', kind: 'exec' }, rule: 'reviewed-touch', approvers: ['ops-leads'] });
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(file)).toBe(false);
    decide({ approved: true, reviewer: 'bob', reviewId: 'rev_1' });
    expect(await pending).toMatchObject({ code: 0, stdout: 'ran\n' });
    expect(existsSync(file)).toBe(true);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'review.decided')?.data).toMatchObject({ approved: true, reviewer: 'bob' });
    expect(events.find((e) => e.type === 'ssh.exec')).toMatchObject({ outcome: 'reviewed' });
  });

  it('refuses a reviewed exec the reviewer denies', async () => {
    const file = tmpName('airlock-reviewed');
    const pending = ssh(gw, alice, 'alice+web-01', [`touch ${file}`]);
    await waitFor(() => reviews.pending.length === 1, { description: 'the review request' });
    reviews.pending.shift()!.decide({ approved: false, reviewer: 'bob', reason: 'not today', reviewId: 'rev_2' });
    const r = await pending;
    expect(r.code).toBe(126);
    expect(r.stderr).toContain('Airlock: denied by reviewer bob: not today');
    expect(existsSync(file)).toBe(false);
  });

  it('ends the shell at a denied typed line rather than send its Enter', async () => {
    const file = tmpName('airlock-forbidden');
    const since = Date.now();
    const client = await gatewayClient(gw.sshPort, 'alice+web-01', { privateKey: readFileSync(alice.file, 'utf8') });
    const ch = await new Promise<ClientChannel>((resolve, reject) => client.shell({ term: 'dumb' }, (err, c) => (err ? reject(err) : resolve(c))));
    await typeForbiddenLine(ch, file);
    client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.shell.line' && e.outcome === 'denied')?.data.line).toBe(`touch ${file}`);
    expect(events.find((e) => e.type === 'ssh.shell.closed')).toMatchObject({ outcome: 'denied' });
  });

  it('checks typed lines in a command run with a terminal too (ssh -t host bash)', async () => {
    const file = tmpName('airlock-forbidden');
    const client = await gatewayClient(gw.sshPort, 'alice+web-01', { privateKey: readFileSync(alice.file, 'utf8') });
    const ch = await new Promise<ClientChannel>((resolve, reject) => client.exec('bash --norc -i', { pty: { term: 'dumb' } }, (err, c) => (err ? reject(err) : resolve(c))));
    await typeForbiddenLine(ch, file);
    client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(file)).toBe(false);
  });

  it('drops a denied line of a script piped into a shell without a PTY', async () => {
    const file = tmpName('airlock-forbidden');
    const r = await ssh(gw, alice, 'alice+web-01', ['-T', ''], { input: `echo one\ntouch ${file}\necho two\n` });
    expect(r.stdout).toBe('one\ntwo\n');
    expect(r.stderr).toContain('Airlock: ');
    expect(existsSync(file)).toBe(false);
  });

  it('marks a line edited with cursor keys as unknown, and unknown follows onUnknown (deny by default)', async () => {
    const since = Date.now();
    const r = await ssh(gw, alice, 'alice+web-01', ['-tt', ''], { input: 'echo ab\x1b[Dc\nexit 0\n' });
    // Changed deliberately: an unknown line was always allowed; a deny rule's onUnknown now decides, and a
    // denied line in a terminal ends the shell.
    expect(r.code).toBe(255);
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.shell.line')).toMatchObject({ data: { unknown: 'cursor keys' }, outcome: 'denied' });
  });
});
