import { join } from 'node:path';
import { main } from '../../src/cli/main.ts';
import { run } from './postgres.ts';

/** The CLI's executable, as a user runs it. */
export const AIRLOCK_BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

/** The environment without AIRLOCK_CONFIG/AIRLOCK_DATA_DIR: the folder a command runs in decides. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'AIRLOCK_CONFIG' && k !== 'AIRLOCK_DATA_DIR') env[k] = v;
  return env;
}

/** Runs `airlock ARGS` as its own process in `cwd`, as a user would from that folder. */
export const airlockIn = (args: string[], cwd: string) => run(process.execPath, [AIRLOCK_BIN, ...args], { cwd, env: cleanEnv(), inheritEnv: false });

/** Runs the real CLI entry in-process and captures what it prints. */
export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
