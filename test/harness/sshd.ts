import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { canConnect, waitFor } from './wait.ts';

export interface SshdServer {
  host: '127.0.0.1';
  port: number;
  /** Login name that the client key is authorized for. */
  user: string;
  /** Private ed25519 key (mode 600) authorized for `user`. */
  clientKeyFile: string;
  /** sshd's private ed25519 host key. */
  hostKeyFile: string;
  /** sshd's public host key, "ssh-ed25519 AAAA..." (no comment). */
  hostPublicKey: string;
  /** A known_hosts file containing `[127.0.0.1]:port <hostPublicKey>`. */
  knownHostsFile: string;
  dir: string;
  /** pid of the listening sshd process. */
  pid: number;
  /** What sshd logged so far (it runs with -e). */
  log(): string;
  stop(): Promise<void>;
}

/** Name of the throwaway local account used when running as root. */
export const SSH_TEST_USER = 'airlocktest';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(cmd: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === 127 ? err.message : '') });
    });
  });
}

async function execOrThrow(cmd: string, args: string[]): Promise<string> {
  const r = await exec(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

function findExecutable(name: string): string | undefined {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter),
    '/usr/sbin',
    '/usr/local/sbin',
    '/sbin',
  ].filter((d) => path.isAbsolute(d));
  for (const d of dirs) {
    const candidate = path.join(d, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Absolute path of sshd (sshd refuses to re-exec itself from a relative path). */
export function sshdBin(): string {
  const bin = findExecutable('sshd');
  if (!bin) throw new Error('sshd not found; run node scripts/system-deps.mjs');
  return bin;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run a shadow-utils command, retrying while another process holds the passwd lock. */
async function shadowUtil(cmd: string, args: string[], okCodes: number[] = [0]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await exec(cmd, args);
    if (okCodes.includes(r.code)) return;
    if (attempt < 20 && /lock|try again/i.test(r.stderr)) {
      await sleep(100 + Math.random() * 200);
      continue;
    }
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  }
}

/**
 * Make sure the throwaway login account exists, has a home directory and an
 * unlocked-but-unusable password ("*"), which sshd accepts for key logins with
 * UsePAM no. Returns its name. When not root, returns the current user.
 */
export async function ensureSshTestUser(): Promise<{ user: string; uid: number; gid: number; home: string }> {
  if (!isRoot()) {
    const me = os.userInfo();
    return { user: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
  }
  const user = SSH_TEST_USER;
  const home = path.join(os.tmpdir(), `${user}-home`);
  const shell = existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';

  let pw = await exec('getent', ['passwd', user]);
  if (pw.code !== 0) {
    // exit code 9: created concurrently by someone else; fine.
    await shadowUtil('useradd', ['-M', '-d', home, '-s', shell, '-c', 'Airlock test user', user], [0, 9]);
    pw = await exec('getent', ['passwd', user]);
    if (pw.code !== 0) throw new Error(`could not create user ${user}`);
  }
  const fields = pw.stdout.trim().split(':');
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (fields[5] !== home) await shadowUtil('usermod', ['-d', home, user]);

  const shadow = await exec('getent', ['shadow', user]);
  const hash = shadow.code === 0 ? (shadow.stdout.split(':')[1] ?? '') : '';
  if (hash !== '*') await shadowUtil('usermod', ['-p', '*', user]);

  await mkdir(home, { recursive: true });
  await chown(home, uid, gid);
  await chmod(home, 0o755);
  return { user, uid, gid, home };
}

const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) {
      try {
        s.child.kill('SIGKILL');
      } catch {
        // already gone
      }
      rmSync(s.dir, { recursive: true, force: true });
    }
    live.clear();
  });
}

async function keygen(file: string, comment: string): Promise<void> {
  await execOrThrow('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

/** Start a private OpenSSH server on a free loopback port (key-only login). */
export async function startSshd(): Promise<SshdServer> {
  installExitHook();
  const bin = sshdBin();
  const account = await ensureSshTestUser();
  if (isRoot() && !existsSync('/run/sshd')) {
    await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-sshd-'));
  try {
    // sshd reads authorized_keys as the target user, so the dir must be traversable.
    await chmod(dir, 0o755);
    const hostKeyFile = path.join(dir, 'ssh_host_ed25519_key');
    const clientKeyFile = path.join(dir, 'client_ed25519');
    const authorizedKeysFile = path.join(dir, 'authorized_keys');
    const knownHostsFile = path.join(dir, 'known_hosts');
    const configFile = path.join(dir, 'sshd_config');
    await Promise.all([keygen(hostKeyFile, 'airlock-test-host'), keygen(clientKeyFile, 'airlock-test-client')]);
    await writeFile(authorizedKeysFile, await readFile(clientKeyFile + '.pub', 'utf8'), { mode: 0o644 });
    await chmod(authorizedKeysFile, 0o644);
    const hostPublicKey = (await readFile(hostKeyFile + '.pub', 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');

    const config = [
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKeyFile}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeysFile}`,
      `AllowUsers ${account.user}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'Subsystem sftp internal-sftp',
      // As Debian ships it: what a client's SendEnv may set is for the gateway to restrict.
      'AcceptEnv LANG LC_* TERM',
      'AllowTcpForwarding yes',
      'AllowAgentForwarding no',
      'X11Forwarding no',
      'PrintMotd no',
      'PrintLastLog no',
      'UseDNS no',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      'LogLevel VERBOSE',
      '',
    ].join('\n');
    await writeFile(configFile, config);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const child = spawn(bin, ['-D', '-e', '-f', configFile, '-p', String(port)], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const record = { child, dir };
      live.add(record);
      let output = '';
      const append = (d: string): void => {
        output += d;
        if (output.length > 256_000) output = output.slice(-128_000);
      };
      child.stdout.setEncoding('utf8').on('data', append);
      child.stderr.setEncoding('utf8').on('data', append);
      let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let spawnError: Error | undefined;
      const exitedPromise = new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          exited = { code, signal };
          resolve();
        });
        child.once('error', (err) => {
          spawnError = err;
          exited ??= { code: null, signal: null };
          resolve();
        });
      });

      try {
        await waitFor(
          async () => {
            if (exited) throw new Error('exited');
            return canConnect(port);
          },
          { timeoutMs: 15_000, intervalMs: 50, description: `sshd on port ${port}` },
        );
      } catch (err) {
        live.delete(record);
        if (!exited) {
          child.kill('SIGKILL');
          await exitedPromise;
        }
        if (/Address already in use/i.test(output) && attempt < 5) continue;
        const why = spawnError ? spawnError.message : (err as Error).message;
        throw new Error(`sshd failed to start (${why}; exit ${JSON.stringify(exited)}):\n${output}`);
      }

      await writeFile(knownHostsFile, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

      let stopping: Promise<void> | undefined;
      const stop = (): Promise<void> => {
        stopping ??= (async () => {
          if (!exited) {
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
            await exitedPromise;
            clearTimeout(timer);
          }
          live.delete(record);
          await rm(dir, { recursive: true, force: true });
        })();
        return stopping;
      };

      return {
        host: '127.0.0.1',
        port,
        user: account.user,
        clientKeyFile,
        hostKeyFile,
        hostPublicKey,
        knownHostsFile,
        dir,
        pid: child.pid ?? -1,
        log: () => output,
        stop,
      };
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
