import { run, pgBinDir } from './postgres.ts';
import { join } from 'node:path';

export interface PsqlTarget {
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
  readonly sslmode?: 'disable' | 'require' | 'verify-full';
  /** The CA file for sslmode=verify-full. */
  readonly sslrootcert?: string;
  readonly host?: string;
}

/** Runs the real psql against the gateway with a libpq connection string. */
export function psql(t: PsqlTarget, args: string[], opts: { input?: string; env?: Record<string, string> } = {}) {
  const conninfo = `host=${t.host ?? '127.0.0.1'} port=${t.port} dbname=${t.database} user=${t.user} sslmode=${t.sslmode ?? 'disable'}${t.sslrootcert ? ` sslrootcert=${t.sslrootcert}` : ''}`;
  return run(join(pgBinDir(), 'psql'), ['-X', '-v', 'ON_ERROR_STOP=1', '-d', conninfo, ...args], {
    input: opts.input,
    env: { PGPASSWORD: t.password, PGCONNECT_TIMEOUT: '10', ...opts.env },
  });
}
