import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface DemoPostgres {
  readonly port: number;
  readonly password: string;
  stop(): void;
}

/** PostgreSQL server binaries, or undefined when they are not installed. */
export function postgresBinDir(): string | undefined {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    return existsSync(join(dir, 'initdb')) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** A throwaway PostgreSQL cluster in a temp dir (run as `postgres` when we are root, as initdb requires). */
export function startDemoPostgres(bin: string, port: number): DemoPostgres {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-demo-pg-'));
  const password = randomBytes(12).toString('hex');
  const asRoot = userInfo().uid === 0;
  let ids: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }));
    ids = { uid, gid };
    chownSync(dir, uid, gid);
  }
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, password, { mode: 0o600 });
  if (ids) chownSync(pwfile, ids.uid, ids.gid);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(join(bin, cmd), args, { uid: ids?.uid, gid: ids?.gid, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.error?.message}`);
  };
  run('initdb', ['-D', join(dir, 'data'), '-U', 'admin', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync']);
  run('pg_ctl', ['-D', join(dir, 'data'), '-l', join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, 'start']);
  return {
    port,
    password,
    stop() {
      spawnSync(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop'], { uid: ids?.uid, gid: ids?.gid });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
