import { execFileSync, spawn } from 'node:child_process';
import type { SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to process.env (or used alone when inheritEnv is false). */
  env?: Record<string, string>;
  inheritEnv?: boolean;
  input?: string;
  cwd?: string;
  timeoutMs?: number;
}

export interface UserCredentials {
  user: string;
  password: string;
}

export interface PgServer {
  host: '127.0.0.1';
  port: number;
  dir: string;
  superuser: 'admin';
  password: string;
  database: 'postgres';
  tls?: { certFile: string; keyFile: string; caFile: string };
  users: {
    scram: UserCredentials;
    md5: UserCredentials;
    cleartext: UserCredentials;
    trust: { user: string };
  };
  psql(args: string[], opts?: { env?: Record<string, string>; input?: string }): Promise<ExecResult>;
  sql(text: string): Promise<string>;
  pid(): number;
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  tls?: boolean;
  /** Extra postgresql.conf settings, e.g. `{ max_connections: '50' }`. */
  settings?: Record<string, string>;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Run a command (not via a shell) and collect its output; never rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.inheritEnv === false ? { ...opts.env } : { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    };
    const child = spawn(cmd, args, spawnOpts);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`failed to run ${cmd}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** Like `run`, but as the `postgres` OS user (via runuser) when we are root. */
export function runAsPostgres(cmd: string, args: string[], opts: RunOptions = {}): Promise<ExecResult> {
  const cwd = opts.cwd ?? os.tmpdir();
  if (!isRoot()) return run(cmd, args, { ...opts, cwd });
  return run('runuser', ['-u', 'postgres', '--', cmd, ...args], { ...opts, cwd });
}

/** Synchronous variant used from process 'exit' handlers. Errors are swallowed. */
export function runAsPostgresSync(cmd: string, args: string[]): void {
  try {
    const [file, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
    execFileSync(file as string, argv as string[], { stdio: 'ignore', cwd: os.tmpdir(), timeout: 15_000 });
  } catch {
    // best effort
  }
}

let postgresIds: { uid: number; gid: number } | undefined;

/** uid/gid of the `postgres` OS user (only meaningful when root). */
export function postgresUserIds(): { uid: number; gid: number } {
  if (!postgresIds) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    postgresIds = { uid, gid };
  }
  return postgresIds;
}

/** When root, hand `paths` to the postgres user; otherwise a no-op. */
export async function chownToPostgres(...paths: string[]): Promise<void> {
  if (!isRoot()) return;
  const { uid, gid } = postgresUserIds();
  for (const p of paths) await chown(p, uid, gid);
}

let binDirCache: string | undefined;

/** `pg_config --bindir`, cached; falls back to the newest /usr/lib/postgresql/N/bin. */
export function pgBinDir(): string {
  if (binDirCache) return binDirCache;
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    if (existsSync(path.join(dir, 'initdb'))) binDirCache = dir;
  } catch {
    // fall through
  }
  if (!binDirCache) {
    const base = '/usr/lib/postgresql';
    const versions = existsSync(base)
      ? readdirSync(base)
          .filter((v) => existsSync(path.join(base, v, 'bin', 'initdb')))
          .sort((a, b) => Number(b) - Number(a))
      : [];
    if (versions.length === 0) {
      throw new Error('PostgreSQL server binaries not found (pg_config/initdb); run node scripts/system-deps.mjs');
    }
    binDirCache = path.join(base, versions[0]!, 'bin');
  }
  return binDirCache;
}

export function randomPassword(): string {
  return randomBytes(18).toString('base64url');
}

function confQuote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

// ---- cleanup of servers still running when the process exits -------------

interface LiveServer {
  dataDir: string;
  dir: string;
  running: boolean;
}

const live = new Set<LiveServer>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) {
      if (s.running) {
        runAsPostgresSync(path.join(pgBinDir(), 'pg_ctl'), ['-D', s.dataDir, '-m', 'immediate', '-w', 'stop']);
      }
      try {
        rmSync(s.dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
    live.clear();
  });
}

// ---- TLS material -----------------------------------------------------------

async function opensslOrThrow(args: string[], cwd: string): Promise<void> {
  const r = await run('openssl', args, { cwd });
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

/** Self-signed CA + server cert for localhost/127.0.0.1, written into `dir`. */
export async function makeServerCert(
  dir: string,
): Promise<{ certFile: string; keyFile: string; caFile: string; caKeyFile: string }> {
  const [caKeyFile, caFile, keyFile, csrFile, certFile, extFile] = [
    'ca.key', 'ca.crt', 'server.key', 'server.csr', 'server.crt', 'server.ext',
  ].map((f) => path.join(dir, f)) as [string, string, string, string, string, string];
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await opensslOrThrow(['req', '-x509', ...ec, '-keyout', caKeyFile, '-out', caFile, '-days', '30',
    '-subj', '/CN=Airlock Test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await opensslOrThrow(['req', ...ec, '-keyout', keyFile, '-out', csrFile, '-subj', '/CN=localhost'], dir);
  await writeFile(extFile, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' +
    'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  await opensslOrThrow(['x509', '-req', '-in', csrFile, '-CA', caFile, '-CAkey', caKeyFile,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '30', '-extfile', extFile, '-out', certFile], dir);
  await chmod(keyFile, 0o600);
  await chmod(caKeyFile, 0o600);
  return { certFile, keyFile, caFile, caKeyFile };
}

// ---- the server -------------------------------------------------------------

function hbaConf(): string {
  const lines = [
    '# Written by the Airlock test harness.',
    '# TYPE  DATABASE  USER         ADDRESS        METHOD',
  ];
  const rules: Array<[string, string]> = [
    ['u_trust', 'trust'],
    ['u_cleartext', 'password'],
    ['u_md5', 'md5'],
    ['all', 'scram-sha-256'],
  ];
  for (const [user, method] of rules) {
    lines.push(`local   all       ${user.padEnd(12)}                ${method}`);
    lines.push(`host    all       ${user.padEnd(12)} 127.0.0.1/32   ${method}`);
    lines.push(`host    all       ${user.padEnd(12)} ::1/128        ${method}`);
  }
  return lines.join('\n') + '\n';
}

async function tail(file: string, max = 4000): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    return text.length > max ? text.slice(-max) : text;
  } catch {
    return '';
  }
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  installExitHook();
  const bin = pgBinDir();
  const pgCtl = path.join(bin, 'pg_ctl');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const record: LiveServer = { dataDir, dir, running: false };
  live.add(record);

  try {
    await chownToPostgres(dir);
    const password = randomPassword();
    const pwFile = path.join(dir, 'pw');
    await writeFile(pwFile, password + '\n', { mode: 0o600 });
    await chownToPostgres(pwFile);

    const init = await runAsPostgres(path.join(bin, 'initdb'), [
      '-D', dataDir, '-U', 'admin', `--pwfile=${pwFile}`, '--auth=scram-sha-256',
      '-E', 'UTF8', '--no-locale', '--no-sync',
    ]);
    if (init.code !== 0) throw new Error(`initdb failed (${init.code}):\n${init.stdout}\n${init.stderr}`);
    await rm(pwFile, { force: true });

    const hbaFile = path.join(dataDir, 'pg_hba.conf');
    await writeFile(hbaFile, hbaConf());
    await chownToPostgres(hbaFile);

    let tls: PgServer['tls'];
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: dir,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      password_encryption: 'scram-sha-256',
    };
    if (opts.tls) {
      const tlsDir = path.join(dir, 'tls');
      await mkdir(tlsDir);
      const files = await makeServerCert(tlsDir);
      await chownToPostgres(tlsDir, files.keyFile, files.certFile, files.caFile);
      tls = { certFile: files.certFile, keyFile: files.keyFile, caFile: files.caFile };
      Object.assign(settings, { ssl: 'on', ssl_cert_file: files.certFile, ssl_key_file: files.keyFile });
    }
    Object.assign(settings, opts.settings ?? {});
    const confFile = path.join(dataDir, 'postgresql.conf');
    const extra = Object.entries(settings)
      .map(([k, v]) => `${k} = ${confQuote(v)}`)
      .join('\n');
    await writeFile(confFile, (await readFile(confFile, 'utf8')) + '\n# Airlock test harness\n' + extra + '\n');

    // Start, retrying with another port if we lost the free-port race.
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const r = await runAsPostgres(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port}`, 'start']);
      if (r.code === 0) break;
      const log = await tail(logFile);
      if (attempt < 5 && /could not bind|already in use|could not create any TCP\/IP sockets/i.test(log)) continue;
      throw new Error(`pg_ctl start failed (${r.code}):\n${r.stdout}\n${r.stderr}\n--- server log ---\n${log}`);
    }
    record.running = true;

    const users = {
      scram: { user: 'u_scram', password: randomPassword() },
      md5: { user: 'u_md5', password: randomPassword() },
      cleartext: { user: 'u_cleartext', password: randomPassword() },
      trust: { user: 'u_trust' },
    };

    const baseEnv = (): Record<string, string> => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) {
        if (v !== undefined && !k.startsWith('PG')) env[k] = v;
      }
      env.PGPASSWORD = password;
      env.PGCONNECT_TIMEOUT = '10';
      return env;
    };

    const psql: PgServer['psql'] = (args, o = {}) =>
      run(
        path.join(bin, 'psql'),
        ['-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'admin', '-d', 'postgres', ...args],
        { env: { ...baseEnv(), ...(o.env ?? {}) }, input: o.input, inheritEnv: false },
      );

    const sql: PgServer['sql'] = async (text) => {
      const r = await psql(['-At', '-c', text]);
      if (r.code !== 0) throw new Error(`psql failed (${r.code}): ${r.stderr.trim()}\nSQL: ${text}`);
      return r.stdout.replace(/\n$/, '');
    };

    const setup = [
      `SET password_encryption = 'scram-sha-256';`,
      `CREATE ROLE u_scram LOGIN PASSWORD ${sqlLiteral(users.scram.password)};`,
      `CREATE ROLE u_cleartext LOGIN PASSWORD ${sqlLiteral(users.cleartext.password)};`,
      `CREATE ROLE u_trust LOGIN;`,
      `SET password_encryption = 'md5';`,
      `CREATE ROLE u_md5 LOGIN PASSWORD ${sqlLiteral(users.md5.password)};`,
      `RESET password_encryption;`,
      `GRANT CREATE ON DATABASE postgres TO u_scram, u_md5, u_cleartext, u_trust;`,
      `GRANT ALL ON SCHEMA public TO u_scram, u_md5, u_cleartext, u_trust;`,
    ].join('\n');
    const s = await psql(['-q', '-f', '-'], { input: setup });
    if (s.code !== 0) throw new Error(`creating test roles failed: ${s.stderr}`);

    let cachedPid: number | undefined;
    const pid = (): number => {
      try {
        const first = readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0];
        cachedPid = Number(first);
      } catch {
        if (cachedPid === undefined) throw new Error('postmaster.pid not readable');
      }
      return cachedPid!;
    };
    pid();

    const kill = async (): Promise<void> => {
      if (!record.running) return;
      const r = await runAsPostgres(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      if (r.code !== 0 && existsSync(path.join(dataDir, 'postmaster.pid'))) {
        throw new Error(`pg_ctl stop -m immediate failed: ${r.stderr}`);
      }
      record.running = false;
    };

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        try {
          await kill();
        } finally {
          live.delete(record);
          await rm(dir, { recursive: true, force: true });
        }
      })();
      return stopping;
    };

    const server: PgServer = {
      host: '127.0.0.1', port, dir, superuser: 'admin', password, database: 'postgres', users, psql, sql, pid, kill, stop,
    };
    if (tls) server.tls = tls;
    return server;
  } catch (err) {
    if (record.running) {
      await runAsPostgres(pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    }
    live.delete(record);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
