import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports.ts';
import { chownToPostgres, isRoot, postgresUserIds } from './postgres.ts';
import { canConnect, waitFor } from './wait.ts';

export interface PgBouncerTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface PgBouncerServer {
  host: '127.0.0.1';
  port: number;
  dir: string;
  /** pid of the pgbouncer process. */
  pid: number;
  /** Everything pgbouncer logged so far (stderr + stdout). */
  log(): string;
  stop(): Promise<void>;
}

function findExecutable(name: string, extraDirs: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...extraDirs].filter(Boolean);
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

let binCache: string | undefined;

/** Absolute path of the pgbouncer binary (PATH, then the sbin directories). */
export function pgbouncerBin(): string {
  binCache ??= findExecutable('pgbouncer', ['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin']);
  if (!binCache) throw new Error('pgbouncer not found; run node scripts/system-deps.mjs');
  return binCache;
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

function quoteAuthFile(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

function checkIdent(kind: string, value: string): void {
  if (!/^[A-Za-z0-9_.-]+$/.test(value)) {
    throw new Error(`startPgBouncer: unsupported ${kind} ${JSON.stringify(value)}`);
  }
}

/**
 * Start pgbouncer (session pooling, md5 auth from an auth_file holding the
 * target user's plain password) in front of `target`. Clients log in to it
 * with the same user/password as the target; the database alias equals the
 * target database name.
 */
export async function startPgBouncer(target: PgBouncerTarget): Promise<PgBouncerServer> {
  installExitHook();
  checkIdent('database name', target.database);
  checkIdent('host', target.host);
  const bin = pgbouncerBin();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-pgb-'));
  let record: { child: ChildProcess; dir: string } | undefined;
  try {
    await chownToPostgres(dir);
    const authFile = path.join(dir, 'userlist.txt');
    await writeFile(authFile, `${quoteAuthFile(target.user)} ${quoteAuthFile(target.password)}\n`, { mode: 0o600 });
    await chownToPostgres(authFile);

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = path.join(dir, 'pgbouncer.ini');
      const config = [
        '[databases]',
        `${target.database} = host=${target.host} port=${target.port} dbname=${target.database}`,
        '',
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        `unix_socket_dir = ${dir}`,
        `pidfile = ${path.join(dir, 'pgbouncer.pid')}`,
        'auth_type = md5',
        `auth_file = ${authFile}`,
        'pool_mode = session',
        'max_client_conn = 200',
        'default_pool_size = 20',
        'server_tls_sslmode = prefer',
        'ignore_startup_parameters = extra_float_digits,options,search_path',
        `admin_users = ${target.user}`,
        `stats_users = ${target.user}`,
        'log_connections = 1',
        'log_disconnections = 1',
        '',
      ].join('\n');
      await writeFile(configFile, config);
      await chownToPostgres(configFile);

      const ids = isRoot() ? postgresUserIds() : undefined;
      const child = spawn(bin, [configFile], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        ...(ids ? { uid: ids.uid, gid: ids.gid } : {}),
      });
      record = { child, dir };
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
          { timeoutMs: 15_000, intervalMs: 50, description: `pgbouncer on port ${port}` },
        );
      } catch (err) {
        live.delete(record);
        if (!exited) {
          child.kill('SIGKILL');
          await exitedPromise;
        }
        const lostRace = /Address already in use/i.test(output);
        if (lostRace && attempt < 5) continue;
        const why = spawnError ? spawnError.message : (err as Error).message;
        throw new Error(`pgbouncer failed to start (${why}; exit ${JSON.stringify(exited)}):\n${output}`);
      }

      const current = record;
      let stopping: Promise<void> | undefined;
      const stop = (): Promise<void> => {
        stopping ??= (async () => {
          if (!exited) {
            // SIGTERM is an immediate shutdown on older pgbouncer and a "wait for
            // clients" shutdown on newer ones; escalate if it lingers.
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 1_000);
            await exitedPromise;
            clearTimeout(timer);
          }
          live.delete(current);
          await rm(dir, { recursive: true, force: true });
        })();
        return stopping;
      };

      return {
        host: '127.0.0.1',
        port,
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
