import { loadConfig } from '../config/load.ts';
import { createLogger } from '../core/logger.ts';
import { Gateway } from '../server/gateway.ts';
import { parse, str, type Io } from './args.ts';
import { announceSetup } from './local.ts';

export const HELP = `airlock gateway [--config FILE]
  runs the gateway with FILE (default ./airlock.yaml or $AIRLOCK_CONFIG; $AIRLOCK_DATA_DIR overrides its dataDir);
  the only command besides demo that creates a data dir. SIGTERM/SIGINT drain it (again to stop at once).`;

export async function gatewayCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, {});
  const loaded = loadConfig(str(values.config));
  announceSetup(loaded);
  const log = createLogger();
  // The last line of defence, never the plan: every handler a client can reach has its own error
  // boundary that ends only that session. A rejection arriving here is a bug and is logged as one.
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    log.fatal({ err: err.message, stack: err.stack }, 'unhandled promise rejection (a gateway bug): the session it belonged to may be left half-closed');
  });
  const gw = await Gateway.start(loaded, { log });
  // Before the banner: a supervisor may signal as soon as it sees the gateway running.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  io.err(`Airlock gateway running (config: ${loaded.path ?? 'built-in defaults'}, data: ${loaded.dataDir})`);
  for (const [protocol, a] of gw.listeners) io.err(`  ${protocol.padEnd(9)} ${a.host}:${a.port}`);
  const conns = Object.keys(loaded.config.connections);
  io.err(conns.length ? `  connections: ${conns.join(', ')}` : '  no connections configured yet: copy airlock.example.yaml to airlock.yaml');
  io.err('Issue a first token:  npx airlock tokens issue --subject alice --groups dba --ttl 8h');
  const api = gw.listeners.get('api');
  if (api) io.err(`Web console:          http://${api.host.includes(':') ? `[${api.host}]` : api.host}:${api.port}/ (sign in with the token)`);
  const pg = gw.listeners.get('postgres');
  if (pg && conns[0]) io.err(`Then connect:         PGPASSWORD=$TOKEN psql "host=${pg.host} port=${pg.port} dbname=${conns[0]} user=alice"`);
  const outcome = await Promise.race([signalled.then((signal) => ({ signal })), gw.failure.then((failure) => ({ failure }))]);
  // Whatever holds the event loop afterwards (a client that never closes), the process ends.
  const exitSoon = (code: number) => setTimeout(() => process.exit(code), 15_000).unref();
  if ('failure' in outcome) {
    io.err(`airlock gateway: stopping after a failure it cannot recover from: ${outcome.failure}`);
    await gw.stop();
    exitSoon(1);
    return 1;
  }
  io.err(`${outcome.signal}: shutting down: new connections are refused; open statements may finish for up to ${loaded.config.limits.drainTimeout} (again to stop at once)`);
  process.once(outcome.signal, () => void gw.stop());
  await gw.drain();
  io.err('stopped: sessions ended and recordings sealed');
  exitSoon(0);
  return 0;
}
