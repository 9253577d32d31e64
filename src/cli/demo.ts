import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../config/load.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { Gateway } from '../server/gateway.ts';
import type { Io } from './args.ts';
import { postgresBinDir, startDemoPostgres } from './demo-postgres.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A throwaway PostgreSQL, a gateway in front of it, a token and a ready-to-paste psql line. */
export async function demoCommand(_argv: string[], io: Io): Promise<number> {
  const bin = postgresBinDir();
  if (!bin) throw new AirlockError(ErrorCodes.usage, 'the demo needs PostgreSQL server binaries (Debian: apt-get install postgresql)');
  const pg = startDemoPostgres(bin, await freePort());
  const dataDir = mkdtempSync(join(tmpdir(), 'airlock-demo-'));
  try {
    const config = parseConfig(
      {
        listen: { postgres: '127.0.0.1:15432' },
        dataDir,
        connections: {
          demo: {
            // A throwaway server's own superuser: fine for a demo, never for a real target.
            type: 'postgres', host: '127.0.0.1', port: pg.port, database: 'postgres', user: 'admin', password: pg.password, allowSuperuser: true,
            allow: ['dba'], policy: { mask: { stored: ['all'] }, deny: [{ name: 'no-drops', statements: ['drop_table', 'drop_database', 'truncate'] }] },
          },
        },
      },
      dataDir,
    );
    const gw = await Gateway.start({ config, path: undefined, dataDir }, { log: createLogger({ level: 'warn' }) });
    const { token } = await gw.tokens.issue({ subject: 'alice', groups: ['dba'], ttlMs: 8 * 3600_000 });
    const port = gw.listeners.get('postgres')!.port;
    io.out('Airlock demo: a throwaway PostgreSQL behind the gateway (Ctrl-C ends it and removes everything).\n');
    io.out(`  psql "host=127.0.0.1 port=${port} dbname=demo user=alice password=${token}"\n`);
    io.out('Try: select 1;   drop table x;   then in another terminal:');
    io.out(`  AIRLOCK_DATA_DIR=${dataDir} npx airlock sessions list`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await gw.stop();
  } finally {
    pg.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return 0;
}
