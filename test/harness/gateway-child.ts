import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { runCli } from './cli.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

/** `airlock gateway` as its own process (what an operator runs), with what it printed so far. */
export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly config: string;
  /** Everything written to stdout (JSON log lines) and stderr (the banner). */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

export interface GatewayFiles {
  readonly config: string;
  readonly dataDir: string;
  readonly pgPort: number;
  readonly apiPort: number;
}

/** Writes a config (JSON is YAML) with free ports for the API and PostgreSQL listeners. */
export async function writeGatewayConfig(dir: string, name: string, dataDir: string, extra: Record<string, unknown>): Promise<GatewayFiles> {
  const pgPort = await freePort();
  const apiPort = await freePort();
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, JSON.stringify({ dataDir, listen: { api: `127.0.0.1:${apiPort}`, postgres: `127.0.0.1:${pgPort}` }, ...extra }));
  return { config, dataDir, pgPort, apiPort };
}

/** Starts `airlock gateway --config FILE`; resolves once it says it is running, or once it has exited. */
export async function spawnGateway(config: string, env: Record<string, string> = {}): Promise<GatewayProcess> {
  const child = spawn(process.execPath, [BIN, 'gateway', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  // The connections line follows the listeners' lines: once it is there, the banner names every port.
  const started = () => /connections:|no connections configured/.test(out);
  const deadline = Date.now() + 30_000;
  while (!done && !started() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!done && !started()) {
    child.kill('SIGKILL');
    throw new Error(`the gateway did not start:\n${out}`);
  }
  return { child, config, output: () => out, exited };
}

/** Issues a token through the CLI against the config's data dir (`groups` comma-separated). */
export async function issueToken(config: string, subject: string, groups: string): Promise<string> {
  const r = await runCli(['tokens', 'issue', '--subject', subject, '--groups', groups, '--ttl', '1h', '--config', config]);
  if (r.code !== 0) throw new Error(r.err);
  return r.out.trim().split('\n').at(-1)!;
}
