import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { ensureSshTestUser, startSshd, type SshdServer } from '../harness/sshd.ts';
import { clientOptions, endedSession, gatewayClient, makeClientKey, registerKey, run, sessionEvents, sshConnection, type ClientKey } from './helpers.ts';

/**
 * SFTP and legacy scp are decided on what a path really names: normalised against the login directory
 * and resolved through symlinks on the target, whatever way the client writes it. Links into protected
 * places, chmod through a handle opened for reading, and renames into them meet the same rules.
 */

let sshd: SshdServer;
let gw: TestGateway;
let key: ClientKey;
let home = '';
let dir = '';
let local = '';
const r = randomBytes(4).toString('hex');
const T = `t-${r}`;
const LOGIN = 'alice+files';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

beforeAll(async () => {
  sshd = await startSshd();
  home = (await ensureSshTestUser()).home;
  // Set up on the target directly (not through the gateway): a protected dir, a symlink to it, files.
  const setup = await run('ssh', [
    ...clientOptions(sshd.port, sshd.clientKeyFile), `${sshd.user}@127.0.0.1`,
    `cd && mkdir -p ${T}/secret && echo SECRET > ${T}/secret/data.txt && echo ro > ${T}/ro.txt && echo tmp > ${T}/tmp.txt && ln -s secret ${T}/lnk`,
  ]);
  if (setup.code !== 0) throw new Error(setup.stderr);
  const base = `${esc(home)}/${T}`;
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    connections: {
      files: await sshConnection(sshd, {
        policy: {
          deny: [
            { name: 'keep-secret', patterns: [`^\\S+ ${base}/secret(/|$)`] },
            { name: 'ro-attrs', patterns: [`^setstat ${base}/ro\\.txt$`] },
          ],
        },
      }),
    },
  });
  key = await makeClientKey();
  await registerKey(gw.gw.store, key, 'alice', ['ops']);
  local = await mkdtemp(join(tmpdir(), 'airlock-sftp-rules-'));
}, 60_000);

afterAll(async () => {
  await run('ssh', [...clientOptions(sshd.port, sshd.clientKeyFile), `${sshd.user}@127.0.0.1`, `cd && rm -rf ${T}`]);
  await gw?.stop();
  await sshd?.stop();
  await key?.remove();
  if (local) await rm(local, { recursive: true, force: true });
});

async function withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
  const client: Client = await gatewayClient(gw.sshPort, LOGIN, { privateKey: await readFile(key.file, 'utf8') });
  try {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
    return await fn(sftp);
  } finally {
    client.end();
  }
}

/** Resolves with the SFTP status code of a failure (3 is permission denied), or 0 on success. */
function status(op: (cb: (err: (Error & { code?: number }) | null | undefined) => void) => void): Promise<number> {
  return new Promise((resolve) => op((err) => resolve(err ? (err.code ?? -1) : 0)));
}

describe('SFTP rules on canonical paths', () => {
  it('refuses a protected file however its path is written, through a symlink too', async () => {
    await withSftp(async (sftp) => {
      expect(await status((cb) => sftp.readFile(`${T}/tmp.txt`, (err) => cb(err)))).toBe(0);
      for (const path of [
        `${home}/${T}/secret/data.txt`, `${T}/secret/data.txt`, `./${T}//secret/./data.txt`, `${home}//${T}//secret/data.txt`,
        `${home}/./${T}/./secret/data.txt`, `${home}/${T}/nope/../secret/data.txt`, `${T}/lnk/data.txt`, `${T}/lnk/../secret/data.txt`,
      ]) {
        expect(await status((cb) => sftp.readFile(path, (err) => cb(err))), path).toBe(3);
      }
      expect(await status((cb) => sftp.readdir(`${T}/lnk`, (err) => cb(err)))).toBe(3);
    });
  });

  it('decides metadata reads (stat, lstat, readlink, realpath) and listings as reads of the canonical path', async () => {
    const batch = async (line: string) => {
      const file = join(local, 'meta-batch');
      await writeFile(file, `${line}\n`);
      return run('sftp', [...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), '-b', file, `${LOGIN}@127.0.0.1`]);
    };
    const ok = await batch(`ls -l ${T}/tmp.txt`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('tmp.txt');
    expect((await batch(`cd ${T}`)).code).toBe(0);
    for (const line of [`ls -l ${T}/secret/data.txt`, `ls -l ${T}/lnk/data.txt`, `ls ${T}/secret`, `cd ${T}/secret`, `cd ${T}/lnk`]) {
      const res = await batch(line);
      expect(res.code, line).not.toBe(0);
      expect(res.stdout + res.stderr, line).not.toContain('data.txt ');
    }
    await withSftp(async (sftp) => {
      expect(await status((cb) => sftp.realpath('.', (err) => cb(err)))).toBe(0);
      expect(await status((cb) => sftp.stat(`${T}/tmp.txt`, (err) => cb(err)))).toBe(0);
      for (const path of [`${T}/secret/data.txt`, `${T}/lnk/data.txt`, `${home}//${T}/./secret`]) {
        expect(await status((cb) => sftp.stat(path, (err) => cb(err))), path).toBe(3);
        expect(await status((cb) => sftp.lstat(path, (err) => cb(err))), path).toBe(3);
        expect(await status((cb) => sftp.realpath(path, (err) => cb(err))), path).toBe(3);
      }
      expect(await status((cb) => sftp.readlink(`${T}/lnk`, (err) => cb(err)))).toBe(3);
      expect(await status((cb) => sftp.lstat(`${T}/lnk`, (err) => cb(err)))).toBe(3);
    });
  });

  it('refuses links and renames into protected places, and chmod through a handle opened for reading', async () => {
    await withSftp(async (sftp) => {
      // ssh2 does not take the gateway for OpenSSH and puts the link path first; OpenSSH's sftp-server reads
      // the target first (as OpenSSH's sftp sends it). Swapped here, the wire carries target, then link.
      const symlink = (target: string, link: string, cb: (err: Error | null | undefined) => void) => sftp.symlink(link, target, cb);
      expect(await status((cb) => symlink(`${home}/${T}/secret`, `${T}/lnk2`, cb))).toBe(3);
      expect(await status((cb) => symlink('secret/data.txt', `${T}/lnk3`, cb))).toBe(3);
      expect(await status((cb) => symlink('tmp.txt', `${T}/lnk4`, cb))).toBe(0);
      expect(await status((cb) => sftp.ext_openssh_hardlink(`${T}/secret/data.txt`, `${T}/hl.txt`, cb))).toBe(3);
      expect(await status((cb) => sftp.rename(`${T}/tmp.txt`, `${T}/secret/new.txt`, cb))).toBe(3);
      const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(`${T}/ro.txt`, 'r', (err, h) => (err ? reject(err) : resolve(h))));
      expect(await status((cb) => sftp.fchmod(handle, 0o777, cb))).toBe(3);
      expect(await status((cb) => sftp.chmod(`${T}/./ro.txt`, 0o777, cb))).toBe(3);
      await new Promise((resolve) => sftp.close(handle, resolve));
    });
    const check = await run('ssh', [...clientOptions(sshd.port, sshd.clientKeyFile), `${sshd.user}@127.0.0.1`,
      `cd ${T} && ls -a && stat -c %a ro.txt && cat secret/data.txt`]);
    expect(check.stdout).not.toMatch(/lnk2|lnk3|hl\.txt/);
    expect(check.stdout).toContain('lnk4');
    expect(check.stdout).not.toMatch(/^777$/m);
    expect(check.stdout).toContain('SECRET');
  });

  it('puts legacy scp (scp -O, an exec of scp -f / -t) under the same rules', async () => {
    const scp = (args: string[]) => run('scp', ['-O', ...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), ...args]);
    const ok = await scp([`${LOGIN}@127.0.0.1:${T}/tmp.txt`, join(local, 'tmp.txt')]);
    expect(ok.code, ok.stderr).toBe(0);
    for (const path of [`${T}/secret/data.txt`, `${T}/lnk/data.txt`, `${home}//${T}/./secret/data.txt`, `'${T}/secret/data.txt'`]) {
      const res = await scp([`${LOGIN}@127.0.0.1:${path}`, join(local, 'got.txt')]);
      expect(res.code, path).not.toBe(0);
      expect(res.stderr, path).toContain('Airlock');
    }
    await writeFile(join(local, 'up.txt'), 'up\n');
    const up = await scp([join(local, 'up.txt'), `${LOGIN}@127.0.0.1:${T}/lnk/`]);
    expect(up.code).not.toBe(0);
    // The SFTP mode of scp (the default) is refused by the SFTP relay.
    const sftpMode = await run('scp', [...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), `${LOGIN}@127.0.0.1:${T}/lnk/data.txt`, join(local, 'got2.txt')]);
    expect(sftpMode.code).not.toBe(0);
  });

  it('puts rsync (an exec of rsync --server) under the same rules, refusing what it cannot parse', async () => {
    const rsync = (args: string[]) => run('rsync', ['-e', ['ssh', ...clientOptions(gw.sshPort, key.file)].join(' '), ...args]);
    const ok = await rsync([`${LOGIN}@127.0.0.1:${T}/tmp.txt`, join(local, 'rs-tmp.txt')]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readFile(join(local, 'rs-tmp.txt'), 'utf8')).toBe('tmp\n');
    for (const path of [`${T}/secret/data.txt`, `${T}/lnk/data.txt`, `${home}//${T}/./secret/data.txt`, `${T}/lnk/`]) {
      const res = await rsync(['-r', `${LOGIN}@127.0.0.1:${path}`, join(local, 'rs-got')]);
      expect(res.code, path).not.toBe(0);
      expect(res.stderr, path).toContain('Airlock');
      await expect(readFile(join(local, 'rs-got', 'data.txt'), 'utf8')).rejects.toThrow();
      await expect(readFile(join(local, 'rs-got'), 'utf8')).rejects.toThrow();
    }
    await writeFile(join(local, 'rs-up.txt'), 'up\n');
    const up = await rsync([join(local, 'rs-up.txt'), `${LOGIN}@127.0.0.1:${T}/lnk/`]);
    expect(up.code).not.toBe(0);
    expect(up.stderr).toContain('Airlock');
    // Protected arguments travel inside the rsync protocol, out of the gateway's sight: refused.
    const secluded = await rsync(['-s', `${LOGIN}@127.0.0.1:${T}/tmp.txt`, join(local, 'rs-s.txt')]);
    expect(secluded.code).not.toBe(0);
    expect(secluded.stderr).toContain('Airlock');
    // An option naming another path (here a backup directory inside the protected one): refused.
    const backup = await rsync(['-b', `--backup-dir=/${T}/secret`, join(local, 'rs-up.txt'), `${LOGIN}@127.0.0.1:${T}/tmp.txt`]);
    expect(backup.code).not.toBe(0);
    expect(backup.stderr).toContain('Airlock');
  });

  it('runs sftp -s sftp-server through the SFTP relay', async () => {
    const batch = join(local, 'batch');
    await writeFile(batch, `get ${T}/secret/data.txt ${join(local, 'sub.txt')}\n`);
    const res = await run('sftp', [...clientOptions(gw.sshPort, key.file).map((a) => (a === '-p' ? '-P' : a)), '-s', '/usr/lib/openssh/sftp-server', '-b', batch, `${LOGIN}@127.0.0.1`]);
    expect(res.code).not.toBe(0);
    // The client's stat of the path is refused before its open: sftp reports the file as not found.
    expect(res.stderr).toMatch(/Permission denied|not found/i);
    await expect(readFile(join(local, 'sub.txt'), 'utf8')).rejects.toThrow();
  });

  it('records writes to shell start-up files and authorized_keys as ssh.startup_file', async () => {
    const since = Date.now();
    await withSftp(async (sftp) => {
      expect(await status((cb) => sftp.writeFile(`${T}/.profile`, 'echo hi\n', cb))).toBe(0);
      expect(await status((cb) => sftp.mkdir(`${T}/.ssh`, cb))).toBe(0);
      expect(await status((cb) => sftp.writeFile(`${T}/.ssh/authorized_keys`, 'ssh-ed25519 AAAA\n', cb))).toBe(0);
    });
    const s = await endedSession(gw.gw.store, 'alice', since);
    const flagged = (await sessionEvents(gw.gw.store, s.id)).filter((e) => e.type === 'ssh.startup_file').map((e) => String(e.data.path));
    expect(flagged).toEqual([`${home}/${T}/.profile`, `${home}/${T}/.ssh/authorized_keys`]);
  });
});
