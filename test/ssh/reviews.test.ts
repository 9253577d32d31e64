import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import type { Identity } from '../../src/core/identity.ts';
import type { ReviewRecord } from '../../src/store/review-types.ts';
import { clientOptions, makeClientKey, registerKey, sshConnection, type ClientKey } from './helpers.ts';

/** SSH commands held for review through the gateway's own review service (not a stand-in): who may decide, expiry, windows. */
let sshd: SshdServer;
let gw: TestGateway;
let alice: ClientKey;
const files: string[] = [];
const fileName = () => {
  const f = `/tmp/airlock-sshrev-${randomBytes(4).toString('hex')}`;
  files.push(f);
  return f;
};
const person = (subject: string, groups: string[]): Identity => ({ subject, groups, kind: 'user', authMethod: 'token' });
const lead = person('lena', ['ops-leads']);

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    reviews: { timeout: '5s' },
    connections: { 'web-01': await sshConnection(sshd, { policy: { review: [{ name: 'reviewed-touch', patterns: ['^touch /tmp/airlock-sshrev', '^mkdir /tmp/airlock-sshrev'], approvers: ['ops-leads'] }] } }) },
  });
  alice = await makeClientKey('alice');
  await registerKey(gw.gw.store, alice, 'alice', ['ops', 'ops-leads']);
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await alice?.remove();
  for (const f of files) rmSync(f, { force: true, recursive: true });
});

/** `ssh alice+web-01@gateway COMMAND`, its stderr readable while it runs. */
function sshLive(command: string) {
  const child = spawn('ssh', [...clientOptions(gw.sshPort, alice.file), 'alice+web-01@127.0.0.1', command], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stdout.resume();
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return { err: () => stderr, exit };
}

async function pending(): Promise<ReviewRecord> {
  return waitFor(async () => (await gw.gw.store.listReviews({ status: 'pending', connection: 'web-01' }))[0], { description: 'a pending review' });
}

describe('ssh exec held for review', () => {
  it('tells the client on stderr at once; only an approver who is not the requester decides; approved, it runs', async () => {
    const file = fileName();
    const run = sshLive(`touch ${file}`);
    const review = await pending();
    await waitFor(() => run.err().includes(review.id), { description: 'the notice on stderr' });
    expect(run.err()).toContain(`Airlock: waiting for review ${review.id}: a member of ops-leads (not you) must approve it`);
    expect(existsSync(file)).toBe(false);
    // The requester is in ops-leads too, and still may not approve their own command.
    await expect(gw.gw.reviews.decide(review.id, person('alice', ['ops-leads']), true)).rejects.toThrow('own request');
    await expect(gw.gw.reviews.decide(review.id, person('bob', ['ops']), true)).rejects.toThrow('not an approver');
    await gw.gw.reviews.decide(review.id, lead, true);
    expect(await run.exit).toBe(0);
    expect(existsSync(file)).toBe(true);
  });

  it('denied, it never runs: exit 126 and the reason', async () => {
    const file = fileName();
    const run = sshLive(`touch ${file}`);
    await gw.gw.reviews.decide((await pending()).id, lead, false, { reason: 'not during the freeze' });
    expect(await run.exit).toBe(126);
    expect(run.err()).toContain('denied by reviewer lena: not during the freeze');
    expect(existsSync(file)).toBe(false);
  });

  it('expires as denied when nobody decides', async () => {
    const file = fileName();
    const run = sshLive(`touch ${file}`);
    const review = await pending();
    expect(await run.exit).toBe(126);
    expect(run.err()).toMatch(/expired/);
    expect(existsSync(file)).toBe(false);
    expect((await gw.gw.store.getReview(review.id))?.status).toBe('expired');
  });

  it('a window lets exactly the approved command through again, and holds any other', async () => {
    const file = fileName();
    const first = sshLive(`touch ${file}`);
    const review = await pending();
    await gw.gw.reviews.decide(review.id, lead, true, { forMs: 30 * 60_000 });
    expect(await first.exit).toBe(0);
    rmSync(file);
    const again = sshLive(`touch ${file}`);
    expect(await again.exit).toBe(0);
    expect(again.err()).not.toContain('waiting for review');
    expect(existsSync(file)).toBe(true);
    const other = fileName();
    const held = sshLive(`touch ${other}`);
    const next = await pending();
    expect(next.id).not.toBe(review.id);
    await gw.gw.reviews.decide(next.id, lead, false, { reason: 'another file' });
    expect(await held.exit).toBe(126);
    expect(existsSync(other)).toBe(false);
  });

  it('an sftp operation held for review is announced on stderr, which sftp shows the user', async () => {
    const dir = fileName();
    const child = spawn('sftp', [...clientOptions(gw.sshPort, alice.file).map((a) => (a === '-p' ? '-P' : a)), '-b', '-', 'alice+web-01@127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    child.stdin.end(`mkdir ${dir}\n`);
    const review = await pending();
    await waitFor(() => stderr.includes(review.id), { description: 'the notice from sftp' });
    expect(stderr).toContain(`Airlock: waiting for review ${review.id}`);
    await gw.gw.reviews.decide(review.id, lead, true);
    expect(await exit).toBe(0);
    expect(existsSync(dir)).toBe(true);
  });

  it('a typed shell line held for review is announced on stderr (no terminal)', async () => {
    const file = fileName();
    const child = spawn('ssh', [...clientOptions(gw.sshPort, alice.file), '-T', 'alice+web-01@127.0.0.1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exit = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
    child.stdin.write(`touch ${file}\n`);
    const review = await pending();
    await waitFor(() => stderr.includes(review.id), { description: 'the notice in the shell' });
    expect(stderr).toContain(`Airlock: waiting for review ${review.id}`);
    await gw.gw.reviews.decide(review.id, lead, true);
    child.stdin.end('exit\n');
    expect(await exit).toBe(0);
    expect(existsSync(file)).toBe(true);
  });
});
