import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import { parsePublicKey } from '../../src/protocols/ssh/keys.ts';
import type { SessionRecord, StoredEvent, Store } from '../../src/store/types.ts';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, optionally feeding stdin; never rejects. */
export function run(
  cmd: string,
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number; env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
    if (child.pid) opts.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

export interface ClientKey {
  readonly file: string;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly dir: string;
  remove(): Promise<void>;
}

/** A fresh ed25519 client key pair in its own temp dir. */
export async function makeClientKey(comment = 'airlock-test'): Promise<ClientKey> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-sshkey-'));
  const file = join(dir, 'id_ed25519');
  await new Promise<void>((resolve, reject) =>
    execFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], (err) => (err ? reject(err) : resolve())),
  );
  const publicKey = (await readFile(`${file}.pub`, 'utf8')).trim();
  return { file, publicKey, fingerprint: parsePublicKey(publicKey).fingerprint, dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Registers a public key to an identity with the store method the CLI uses. */
export async function registerKey(store: Store, key: ClientKey, subject: string, groups: string[], kind: 'user' | 'service' = 'user'): Promise<void> {
  const info = parsePublicKey(key.publicKey);
  await store.insertSshKey({ fingerprint: info.fingerprint, subject, groups, kind, publicKey: info.line, createdAt: Date.now(), comment: info.comment || null });
}

/** A connection entry for a harness sshd, authenticating with the harness's authorized client key. */
export async function sshConnection(sshd: SshdServer, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return { type: 'ssh', host: sshd.host, port: sshd.port, user: sshd.user, privateKey: await readFile(sshd.clientKeyFile, 'utf8'), allow: ['ops'], ...extra };
}

/** Options every OpenSSH client invocation in the tests uses. */
export function clientOptions(port: number, keyFile?: string): string[] {
  return [
    '-p', String(port),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR', '-o', 'ConnectTimeout=10',
    ...(keyFile ? ['-o', 'IdentitiesOnly=yes', '-i', keyFile] : ['-o', 'PubkeyAuthentication=no']),
  ];
}

export function ssh(gw: TestGateway, key: ClientKey | undefined, login: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<RunResult> {
  return run('ssh', [...clientOptions(gw.sshPort, key?.file), ...args.slice(0, -1), `${login}@127.0.0.1`, ...args.slice(-1)], opts);
}

export async function sessionEvents(store: Store, id: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of store.readEvents(id)) out.push(e);
  return out;
}

/** Waits for the first ssh session of `subject` started after `since` to end, and returns it. */
export async function endedSession(store: Store, subject: string, since: number, timeoutMs = 15_000): Promise<SessionRecord> {
  return waitFor(
    async () => {
      const [first] = (await store.listSessions({ user: subject, protocol: 'ssh', since })).reverse();
      return first?.endedAt !== null ? first : undefined;
    },
    { timeoutMs, description: `an ended ssh session of ${subject}` },
  );
}

/** The pids of a process's descendants (the per-connection processes of a harness sshd). */
export async function descendantPids(pid: number): Promise<number[]> {
  const r = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]);
  const children = r.stdout.split(/\s+/).filter(Boolean).map(Number);
  const deeper = await Promise.all(children.map(descendantPids));
  return [...children, ...deeper.flat()];
}

/** Sends `signal` to each pid, ignoring ones already gone. */
export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already exited
    }
  }
}

/** An ssh2 client logged in to the gateway (for what the OpenSSH client cannot script: resize, timing). */
export async function gatewayClient(port: number, username: string, auth: { privateKey: string } | { password: string }): Promise<import('ssh2').Client> {
  const { default: ssh2 } = await import('ssh2');
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve());
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username, ...auth, readyTimeout: 10_000, hostVerifier: () => true });
  });
  return client;
}

/** Collects a channel's output; `waitFor(text)` resolves once it has appeared. */
export function collect(stream: NodeJS.ReadableStream): { text: () => string; waitFor: (s: string | RegExp, timeoutMs?: number) => Promise<void> } {
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return {
    text: () => out,
    waitFor: (s, timeoutMs = 10_000) =>
      waitFor(() => (typeof s === 'string' ? out.includes(s) : s.test(out)), { timeoutMs, description: `output ${String(s)} (got ${JSON.stringify(out.slice(-300))})` }).then(() => undefined),
  };
}

export interface WebGateway {
  readonly sshd: SshdServer;
  readonly gw: TestGateway;
  /** Registered to alice, group ops. */
  readonly alice: ClientKey;
  stop(): Promise<void>;
}

/** An sshd, a gateway in front of it as connection `web-01` (with `config` added) and alice's key registered. */
export async function webGatewayForAlice(config: Record<string, unknown> = {}, options: Parameters<typeof startGateway>[1] = {}): Promise<WebGateway> {
  const sshd = await startSshd();
  let gw: TestGateway | undefined;
  let alice: ClientKey | undefined;
  const stop = async () => {
    await gw?.stop();
    await sshd.stop();
    await alice?.remove();
  };
  try {
    gw = await startGateway({ listen: { ssh: '127.0.0.1:0' }, connections: { 'web-01': await sshConnection(sshd) }, ...config }, options);
    alice = await makeClientKey('alice');
    await registerKey(gw.gw.store, alice, 'alice', ['ops']);
    return { sshd, gw, alice, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
