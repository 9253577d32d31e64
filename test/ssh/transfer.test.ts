import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import { clientOptions, descendantPids, endedSession, makeClientKey, signalAll, registerKey, run, sessionEvents, ssh, sshConnection, type ClientKey } from './helpers.ts';

let sshd: SshdServer;
let gw: TestGateway;
let key: ClientKey;
let dir: string;
const LOGIN = 'alice+files';

const sha256 = (file: string) =>
  new Promise<string>((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Samples this process's memory while `fn` runs; returns the peak growth in MiB of RSS and of the live
 * memory held in Buffers (measured right after a forced GC, so garbage not yet collected does not count:
 * relayed data that piles up for want of backpressure does).
 */
async function peakGrowth(fn: () => Promise<unknown>): Promise<{ rss: number; buffers: number }> {
  gc();
  const base = process.memoryUsage();
  let rss = base.rss;
  let buffers = base.arrayBuffers;
  const timer = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage().rss);
    gc();
    buffers = Math.max(buffers, process.memoryUsage().arrayBuffers);
  }, 100);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return { rss: (rss - base.rss) / 2 ** 20, buffers: (buffers - base.arrayBuffers) / 2 ** 20 };
}

beforeAll(async () => {
  sshd = await startSshd();
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    connections: { files: await sshConnection(sshd, { policy: { deny: [{ name: 'keep-protected', patterns: ['^remove .*protected'] }] } }) },
  });
  key = await makeClientKey();
  await registerKey(gw.gw.store, key, 'alice', ['ops']);
  dir = await mkdtemp(join(tmpdir(), 'airlock-xfer-'));
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await key?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('file transfer through the gateway', () => {
  // Each transfer stalls one side for 1.5 s mid-way (SIGSTOP of the target's sshd processes on upload,
  // of the scp client on download): the gateway must stop reading from the other side rather than
  // buffer what cannot be delivered. SFTP-mode scp also limits its requests in flight; legacy scp (-O)
  // is a plain stream inside an exec channel, so only the gateway's backpressure bounds it.
  it.each([
    ['scp (sftp protocol)', []],
    ['scp -O (legacy protocol)', ['-O']],
  ])('copies a 200 MB file with %s both ways with bounded gateway memory', async (_name, mode) => {
    const local = join(dir, 'big.bin');
    const back = join(dir, 'big-back.bin');
    const remote = `big-${randomBytes(4).toString('hex')}.bin`;
    expect((await run('sh', ['-c', `head -c 200M /dev/urandom > ${local}`])).code).toBe(0);
    const scp = (from: string, to: string, onSpawn?: (pid: number) => void) =>
      run('scp', [...mode, ...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), '-q', from, to], { timeoutMs: 180_000, onSpawn });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const since = Date.now();
    /** Waits until the `n`th transfer of this test (0: upload, 1: download) has its channel open, and a little more. */
    const transferStarted = async (n: number) => {
      await waitFor(
        async () => {
          const s = (await gw.gw.store.listSessions({ user: 'alice', protocol: 'ssh', since })).reverse()[n];
          return s && (await sessionEvents(gw.gw.store, s.id)).some((e) => e.type === 'ssh.exec' || e.type === 'ssh.subsystem');
        },
        { timeoutMs: 30_000, description: `transfer ${n} to start` },
      );
      await sleep(300);
    };

    let up!: Awaited<ReturnType<typeof scp>>;
    const upGrowth = await peakGrowth(async () => {
      const done = scp(local, `${LOGIN}@127.0.0.1:${remote}`);
      // Stop the target once the transfer runs, not during its handshake (which takes longer on a loaded machine).
      await transferStarted(0);
      const target = await descendantPids(sshd.pid);
      signalAll(target, 'SIGSTOP');
      await sleep(1500);
      signalAll(target, 'SIGCONT');
      up = await done;
    });
    expect(up).toMatchObject({ code: 0, stderr: '' });
    let down!: Awaited<ReturnType<typeof scp>>;
    const downGrowth = await peakGrowth(async () => {
      let pid = 0;
      const done = scp(`${LOGIN}@127.0.0.1:${remote}`, back, (p) => (pid = p));
      await transferStarted(1);
      signalAll([pid], 'SIGSTOP');
      await sleep(1500);
      signalAll([pid], 'SIGCONT');
      down = await done;
    });
    expect(down).toMatchObject({ code: 0, stderr: '' });

    const remoteSum = await ssh(gw, key, LOGIN, [`sha256sum ${remote} && rm ${remote}`]);
    const sum = await sha256(local);
    expect(remoteSum.stdout.split(' ')[0]).toBe(sum);
    expect(await sha256(back)).toBe(sum);
    console.log(
      `${_name} 200 MB through the gateway, peak growth: up RSS ${upGrowth.rss.toFixed(1)} MiB, live buffers ${upGrowth.buffers.toFixed(1)} MiB; ` +
        `down RSS ${downGrowth.rss.toFixed(1)} MiB, live buffers ${downGrowth.buffers.toFixed(1)} MiB`,
    );
    // Bounded by the SSH windows and stream buffers (a few MiB per direction), not by the 200 MB moved.
    for (const g of [upGrowth, downGrowth]) {
      expect(g.rss).toBeLessThan(120);
      expect(g.buffers).toBeLessThan(48);
    }

    const [upload] = (await gw.gw.store.listSessions({ user: 'alice', protocol: 'ssh', since })).reverse();
    const events = await sessionEvents(gw.gw.store, upload.id);
    if (mode.length === 0) {
      const close = events.find((e) => e.type === 'sftp.op' && e.data.op === 'close');
      expect(close?.data).toMatchObject({ path: expect.stringContaining(remote), of: 'write', bytesWritten: 200 * 2 ** 20, bytes: 200 * 2 ** 20 });
    } else {
      expect(events.find((e) => e.type === 'ssh.exec')?.data.command).toMatch(/^scp .*-t/);
      expect(events.find((e) => e.type === 'ssh.exit')?.data).toMatchObject({ code: 0, truncated: ['stdin'] });
      // The stream is recorded up to the limit only.
      const stored = events.filter((e) => e.type === 'ssh.input').reduce((n, e) => n + String(e.data.data).length, 0);
      expect(stored).toBeLessThan(200 * 1024);
    }
    await rm(local);
    await rm(back);
  }, 240_000);

  it('records sftp put, get, mkdir, rename, rm and rmdir as operations', async () => {
    const r = randomBytes(4).toString('hex');
    const local = join(dir, 'put.txt');
    const got = join(dir, 'got.txt');
    await writeFile(local, 'hello sftp\n'.repeat(100));
    const batch = join(dir, 'batch');
    await writeFile(batch, [`put ${local} up-${r}.txt`, `get up-${r}.txt ${got}`, `mkdir d-${r}`, `rename up-${r}.txt d-${r}/moved.txt`, `rm d-${r}/moved.txt`, `rmdir d-${r}`, ''].join('\n'));
    const since = Date.now();
    const res = await run('sftp', [...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), '-b', batch, `${LOGIN}@127.0.0.1`]);
    expect(res.code).toBe(0);
    expect(await readFile(got, 'utf8')).toBe('hello sftp\n'.repeat(100));

    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    const ops = events.filter((e) => e.type === 'sftp.op' && !['stat', 'lstat', 'readlink'].includes(String(e.data.op))).map((e) => e.data);
    const find = (op: string, path: string) => ops.find((o) => o.op === op && String(o.path).endsWith(path));
    expect(find('write', `up-${r}.txt`)).toMatchObject({ status: 'ok' });
    expect(ops.find((o) => o.op === 'close' && o.of === 'write')).toMatchObject({ bytesWritten: 1100, bytesRead: 0 });
    expect(find('read', `up-${r}.txt`)).toMatchObject({ status: 'ok' });
    expect(ops.find((o) => o.op === 'close' && o.of === 'read')).toMatchObject({ bytesRead: 1100, bytesWritten: 0 });
    expect(find('mkdir', `d-${r}`)).toMatchObject({ status: 'ok' });
    expect(find('rename', `up-${r}.txt`)).toMatchObject({ to: expect.stringContaining(`d-${r}/moved.txt`), status: 'ok' });
    expect(find('remove', `d-${r}/moved.txt`)).toMatchObject({ status: 'ok' });
    expect(find('rmdir', `d-${r}`)).toMatchObject({ status: 'ok' });
    expect(events.find((e) => e.type === 'ssh.subsystem')?.data).toMatchObject({ name: 'sftp' });
  });

  it('rsync -e ssh copies a tree through the gateway and is recorded as an exec', async () => {
    const src = join(dir, 'tree');
    await run('mkdir', ['-p', join(src, 'sub')]);
    await writeFile(join(src, 'a.txt'), 'alpha\n'.repeat(1000));
    await writeFile(join(src, 'sub', 'b.bin'), randomBytes(300_000));
    const r = randomBytes(4).toString('hex');
    const since = Date.now();
    const sshCmd = ['ssh', ...clientOptions(gw.sshPort, key.file)].join(' ');
    const res = await run('rsync', ['-a', '-e', sshCmd, `${src}/`, `${LOGIN}@127.0.0.1:rsync-${r}/`]);
    expect(res.code, res.stderr).toBe(0);
    const back = join(dir, `back-${r}`);
    const res2 = await run('rsync', ['-a', '-e', sshCmd, `${LOGIN}@127.0.0.1:rsync-${r}/`, `${back}/`]);
    expect(res2.code, res2.stderr).toBe(0);
    expect(await sha256(join(back, 'sub', 'b.bin'))).toBe(await sha256(join(src, 'sub', 'b.bin')));
    expect(await readFile(join(back, 'a.txt'), 'utf8')).toBe('alpha\n'.repeat(1000));
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.exec')?.data.command).toMatch(/^rsync --server/);
  });

  it('answers a denied sftp operation with permission denied and leaves the file alone', async () => {
    const name = `protected-${randomBytes(4).toString('hex')}.txt`;
    const local = join(dir, 'p.txt');
    await writeFile(local, 'keep me\n');
    const batch = join(dir, 'batch-deny');
    await writeFile(batch, [`put ${local} ${name}`, `rm ${name}`, ''].join('\n'));
    const since = Date.now();
    const res = await run('sftp', [...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), '-b', batch, `${LOGIN}@127.0.0.1`]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Permission denied/i);
    expect((await ssh(gw, key, LOGIN, [`cat ${name} && rm ${name}`])).stdout).toBe('keep me\n');
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'sftp.op' && e.data.op === 'remove')).toMatchObject({ data: { status: 'denied' }, outcome: 'denied' });
    expect(events.find((e) => e.type === 'policy.deny')?.data).toMatchObject({ kind: 'sftp', rule: 'keep-protected' });
  });
});
