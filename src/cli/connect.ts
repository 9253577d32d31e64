import { readFileSync } from 'node:fs';
import { loadConfig, parseListen } from '../config/load.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { apiTarget, callApi } from './api-client.ts';
import { parse, str, type Io } from './args.ts';
import { startPgTunnel } from './pg-tunnel.ts';

export const HELP = `airlock connect CONNECTION [--port 5432] [--gateway HOST:PORT] [--ca FILE] [--token T] [--url API]
Opens a local PostgreSQL port for unmodified clients (psql, DBeaver…) that reach CONNECTION through the gateway
as you. It closes when your login session or token stops being valid.`;

export async function connectCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, {
    port: { type: 'string' }, gateway: { type: 'string' }, ca: { type: 'string' }, token: { type: 'string' }, url: { type: 'string' },
  });
  const connection = positionals[0];
  if (!connection) throw new AirlockError(ErrorCodes.usage, HELP);
  const api = await apiTarget(values);
  const me = await callApi<{ subject: string }>(api, 'GET', '/api/me');
  const gatewayAddr = str(values.gateway) ?? process.env.AIRLOCK_PG_ADDR ?? loadConfig(str(values.config)).config.listen.postgres ?? '127.0.0.1:15432';
  const { host, port } = parseListen(gatewayAddr);
  const localPort = Number(str(values.port) ?? 5432);
  const server = await startPgTunnel(
    {
      gatewayHost: host, gatewayPort: port, connection, subject: me.subject, credential: api.credential ?? (async () => api.token),
      ca: values.ca ? readFileSync(String(values.ca), 'utf8') : undefined, onError: (m) => io.err(`connection failed: ${m}`),
    },
    localPort,
  );
  const bound = (server.address() as { port: number }).port;
  io.out(`Connected as ${me.subject} to ${connection} through ${host}:${port}.`);
  io.out(`  psql "host=127.0.0.1 port=${bound} dbname=${connection} user=${me.subject}"`);
  io.out('Ctrl-C closes it.');
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      callApi(api, 'GET', '/api/me').catch(() => {
        io.err('your session is no longer valid: closing');
        resolve();
      });
    }, 30_000);
    check.unref();
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    server.once('close', resolve);
  });
  server.close();
  return 0;
}
