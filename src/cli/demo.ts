import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../config/load.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { Gateway } from '../server/gateway.ts';
import { intFlag, parse, str, type Io } from './args.ts';
import { postgresBinDir, startDemoPostgres } from './demo-postgres.ts';

export const HELP = `airlock demo [--port N] [--data-dir DIR]
  a throwaway PostgreSQL behind a gateway, with tokens and ready-to-paste psql lines; Ctrl-C ends it
  --port      the gateway's PostgreSQL port (default: a free one, never the 15432 of \`npm start\`)
  --data-dir  where the demo's recordings are kept, and stay until you remove them (default ./.airlock-demo)
  The web console listens on a free port too; both addresses are printed.`;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A small table with personal data, so the demo shows masking (stored for everyone, live for analysts). */
async function seed(port: number, password: string): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password, database: 'postgres' });
  await c.connect();
  try {
    await c.query(`CREATE TABLE customers (id int PRIMARY KEY, name text, email text, card text);
      INSERT INTO customers VALUES (1, 'Ada Lovelace', 'ada@example.com', '4111 1111 1111 1111'),
        (2, 'Alan Turing', 'alan@example.com', '5500 0000 0000 0004')`);
  } finally {
    await c.end();
  }
}

/** A throwaway PostgreSQL, a gateway in front of it, tokens and ready-to-paste psql lines. */
export async function demoCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, { port: { type: 'string' }, 'data-dir': { type: 'string' } });
  const gatewayPort = intFlag(values.port, '--port', 1, 65535) ?? 0;
  const dataDir = resolve(str(values['data-dir']) ?? '.airlock-demo');
  const bin = postgresBinDir();
  if (!bin) throw new AirlockError(ErrorCodes.config, 'the demo needs PostgreSQL server binaries (Debian: apt-get install postgresql)');
  const pgServer = startDemoPostgres(bin, await freePort());
  try {
    await seed(pgServer.port, pgServer.password);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const config = parseConfig(
      {
        listen: { postgres: `127.0.0.1:${gatewayPort}`, api: '127.0.0.1:0' },
        dataDir,
        connections: {
          demo: {
            // A throwaway server's own superuser: fine for a demo, never for a real target.
            type: 'postgres', host: '127.0.0.1', port: pgServer.port, database: 'postgres', user: 'admin', password: pgServer.password, allowSuperuser: true,
            allow: ['dba', 'analysts'],
            policy: { mask: { stored: ['all'], live: { groups: ['analysts'] } }, deny: [{ name: 'no-drops', statements: ['drop_table', 'drop_database', 'truncate'] }] },
          },
        },
      },
      dataDir,
    );
    const gw = await Gateway.start({ config, path: undefined, dataDir }, { log: createLogger({ level: 'warn' }) });
    const alice = await gw.tokens.issue({ subject: 'alice', groups: ['dba'], ttlMs: 8 * 3600_000 });
    const bob = await gw.tokens.issue({ subject: 'bob', groups: ['analysts'], ttlMs: 8 * 3600_000 });
    const port = gw.listeners.get('postgres')!.port;
    const api = gw.listeners.get('api')!;
    io.out('Airlock demo: a throwaway PostgreSQL behind the gateway (Ctrl-C ends it; the recordings stay).\n');
    io.out('alice (dba) sees real values; recordings keep them masked:');
    io.out(`  PGPASSWORD=${alice.token} psql "host=127.0.0.1 port=${port} dbname=demo user=alice"`);
    io.out('bob (analysts) sees them masked live:');
    io.out(`  PGPASSWORD=${bob.token} psql "host=127.0.0.1 port=${port} dbname=demo user=bob"\n`);
    io.out('Try: select * from customers;   drop table customers;');
    io.out(`Web console: http://127.0.0.1:${api.port}/ (sign in with alice's token)`);
    io.out(`Recordings:  AIRLOCK_DATA_DIR=${dataDir} npx airlock sessions list   (kept until you remove ${dataDir})`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await gw.stop();
  } finally {
    pgServer.stop();
  }
  return 0;
}
