import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { AdminActions, type Actor } from '../admin/actions.ts';
import { loadConfig, type ConnectionSecrets, type LoadedConfig } from '../config/load.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { TokenService } from '../identity/tokens.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';

/** Where a command's configuration and data come from, for its messages. */
export function describeSetup(loaded: LoadedConfig): string {
  return `config ${loaded.path ?? 'none (no airlock.yaml here, no --config, no AIRLOCK_CONFIG: built-in defaults)'}, data dir ${loaded.dataDir}`;
}

/** Global flags of the CLI (`--verbose`, taken out by main before a command parses its own). */
export const cliFlags = { verbose: false };

/** With --verbose, one line on stderr naming the config and data dir a command uses (stdout stays the command's). */
export function announceSetup(loaded: LoadedConfig, what: 'config and data dir' | 'config' = 'config and data dir'): void {
  if (!cliFlags.verbose) return;
  process.stderr.write(`airlock: ${what === 'config' ? describeSetup(loaded).replace(/, data dir .*$/, '') : describeSetup(loaded)}\n`);
}

/**
 * The store a gateway created in the configured data dir. Only `airlock gateway` (and the demo) create one: a
 * command run in the wrong folder is refused, naming the config and data dir it looked at, instead of
 * creating an empty store and issuing tokens no gateway knows.
 */
export function openExistingStore(loaded: LoadedConfig): Store {
  announceSetup(loaded);
  if (!existsSync(join(loaded.dataDir, 'airlock.db'))) {
    throw new AirlockError(ErrorCodes.config, `no Airlock store here (${describeSetup(loaded)}): run it where the gateway runs, or pass --config FILE or AIRLOCK_DATA_DIR; only \`airlock gateway\` creates a store`);
  }
  return openStore(loaded.dataDir);
}

/**
 * Admin commands on the gateway's own host open the local data dir directly. They read no connection's secrets
 * (`secrets`: the connections a command does use).
 */
export async function withLocalStore<T>(configPath: string | undefined, fn: (store: Store, loaded: LoadedConfig) => Promise<T>, secrets: ConnectionSecrets = []): Promise<T> {
  const loaded = loadConfig(configPath, undefined, secrets);
  const store = openExistingStore(loaded);
  try {
    return await fn(store, loaded);
  } finally {
    await store.close();
  }
}

/** The operator on the gateway host, for the audit trail of local reads (`sessions show`, `replay`, `export`). */
export function localOperator(): string {
  try {
    return `local:${userInfo().username}`;
  } catch {
    return 'local:unknown';
  }
}

/** Looking at or exporting a recording is itself recorded, whoever does it and however. */
export async function auditLocal(store: Store, action: string, target: string, detail: Record<string, unknown> = {}): Promise<void> {
  await store.appendAudit({ time: Date.now(), subject: localOperator(), action, target, detail: { via: 'cli', ...detail } });
}

/** The operator on the gateway host as the actor of an administrative change. */
export function localActor(): Actor {
  return { subject: localOperator(), via: 'cli' };
}

/** Opens the local data dir for an administrative change, made and audited as the API makes it (AdminActions). */
export function withAdmin<T>(configPath: string | undefined, fn: (admin: AdminActions, store: Store, loaded: LoadedConfig) => Promise<T>): Promise<T> {
  return withLocalStore(configPath, (store, loaded) => fn(new AdminActions(store, new TokenService(store, loaded.config.identity)), store, loaded));
}
