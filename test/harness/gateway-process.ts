import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { run } from './postgres.ts';
import { waitFor } from './wait.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

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

/** Issues a token with the real CLI against the gateway's config (before the gateway starts). */
export async function issueToken(configFile: string, subject: string, groups: string[]): Promise<string> {
  const r = await run(process.execPath, [BIN, 'tokens', 'issue', '--subject', subject, '--groups', groups.join(','), '--ttl', '1h', '--config', configFile]);
  if (r.code !== 0) throw new Error(`tokens issue failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1)!;
}

/**
 * The gateway as its own process (`airlock gateway`), for tests about the process itself: that it
 * survives what a client sends, and what memory it uses. `raw` is the config (JSON is YAML); listeners
 * on port 0. `beforeStart` runs with the config file written (to issue tokens with the CLI).
 */
export async function startGatewayProcess(raw: Record<string, unknown>, beforeStart?: (configFile: string) => Promise<void>): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-gwp-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'airlock.yaml');
  writeFileSync(configFile, JSON.stringify({ ...raw, dataDir }));
  if (beforeStart) {
    await openStore(dataDir).close(); // the store the gateway will open (only a gateway creates one): tokens go there first
    await beforeStart(configFile);
  }
  const child: ChildProcess = spawn(process.execPath, [BIN, 'gateway', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AIRLOCK_LOG_LEVEL: 'info' },
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    exited = true;
    resolve(code);
  }));
  const ports = new Map<string, number>();
  try {
    await waitFor(() => exited || /connections:|no connections configured/.test(out), { timeoutMs: 30_000, description: 'the gateway banner' });
    if (exited) throw new Error(`the gateway exited: ${out}`);
    for (const m of out.matchAll(/^ {2}(\w+) +[\d.]+:(\d+)$/gm)) ports.set(m[1]!, Number(m[2]));
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    pid: child.pid!,
    dataDir,
    ports,
    alive: () => !exited,
    output: () => out,
    async rss() {
      const { readFile } = await import('node:fs/promises');
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exit;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
