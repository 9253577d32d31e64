import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger, type Logger } from '../../src/core/logger.ts';
import type { RecorderOptions } from '../../src/recording/recorder.ts';
import type { ReviewGate } from '../../src/reviews/types.ts';
import { Gateway } from '../../src/server/gateway.ts';
import type { PgServer } from './postgres.ts';

export interface TestGateway {
  readonly gw: Gateway;
  readonly dataDir: string;
  readonly pgPort: number;
  /** Port of the SSH listener when the config has `listen.ssh` (e.g. '127.0.0.1:0'), else 0. */
  readonly sshPort: number;
  token(subject: string, groups: string[], opts?: { ttlMs?: number; service?: boolean }): Promise<string>;
  stop(): Promise<void>;
}

/** A gateway on free loopback ports with its own temp data dir, configured from a plain object. */
export async function startGateway(
  raw: Record<string, unknown>,
  options: { reviews?: ReviewGate; parentDir?: string; recorder?: RecorderOptions; log?: Logger } = {},
): Promise<TestGateway> {
  const dataDir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'airlock-gw-'));
  const config = parseConfig({ listen: { postgres: '127.0.0.1:0' }, ...raw, dataDir }, dataDir);
  const gw = await Gateway.start({ config, path: undefined, dataDir }, { log: options.log ?? silentLogger, reviews: options.reviews, recorder: options.recorder });
  return {
    gw,
    dataDir,
    pgPort: gw.listeners.get('postgres')?.port ?? 0,
    sshPort: gw.listeners.get('ssh')?.port ?? 0,
    async token(subject, groups, opts = {}) {
      return (await gw.tokens.issue({ subject, groups, ttlMs: opts.ttlMs ?? 3_600_000, service: opts.service })).token;
    },
    async stop() {
      await gw.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A postgres connection entry pointing at a harness server with the given target user. */
export function pgConnection(pg: PgServer, extra: Record<string, unknown> = {}, user: 'admin' | 'scram' | 'md5' | 'cleartext' | 'trust' = 'admin'): Record<string, unknown> {
  const creds = user === 'admin' ? { user: pg.superuser, password: pg.password } : user === 'trust' ? { user: pg.users.trust.user } : pg.users[user];
  // The harness superuser is allowed as a target: most tests are about the relay, not about superusers.
  const superuser = user === 'admin' ? { allowSuperuser: true } : {};
  return { type: 'postgres', host: pg.host, port: pg.port, database: pg.database, ...creds, allow: ['dba'], ...superuser, ...extra };
}
