import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { spawnGateway } from './gateway-child.ts';

export interface GatewayProcess {
  readonly pid: number;
  readonly dataDir: string;
  /** Listener ports by protocol, as the gateway printed them. */
  readonly ports: ReadonlyMap<string, number>;
  /** Whether the process is still running. */
  alive(): boolean;
  /** What it logged (pino JSON lines on stdout, the banner on stderr). */
  output(): string;
  /** Resident set size in bytes, from /proc. */
  rss(): Promise<number>;
  stop(): Promise<number | null>;
}

/**
 * The gateway as its own process (`airlock gateway`), for tests about the process itself: that it
 * survives what a client sends, and what memory it uses. `raw` is the config (JSON is YAML); listeners
 * on port 0. `beforeStart` runs with the config file written and the store made (to issue tokens with the CLI).
 */
export async function startGatewayProcess(raw: Record<string, unknown>, beforeStart?: (configFile: string) => Promise<void>): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-gwp-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'airlock.yaml');
  writeFileSync(configFile, JSON.stringify({ ...raw, dataDir }));
  let gw;
  try {
    if (beforeStart) {
      await openStore(dataDir).close(); // the store the gateway will open (only a gateway creates one): tokens go there first
      await beforeStart(configFile);
    }
    gw = await spawnGateway(configFile, { AIRLOCK_LOG_LEVEL: 'info' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { child, exited, output } = gw;
  let alive = true;
  void exited.then(() => (alive = false));
  const ports = new Map<string, number>();
  for (const m of output().matchAll(/^ {2}(\w+) +[\d.]+:(\d+)$/gm)) ports.set(m[1]!, Number(m[2]));
  return {
    pid: child.pid!,
    dataDir,
    ports,
    alive: () => alive,
    output,
    async rss() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    async stop() {
      if (alive) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
