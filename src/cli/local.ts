import { userInfo } from 'node:os';
import { AdminActions, type Actor } from '../admin/actions.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { TokenService } from '../identity/tokens.ts';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';

/** Admin commands on the gateway's own host open the local data dir directly. */
export async function withLocalStore<T>(configPath: string | undefined, fn: (store: Store, loaded: LoadedConfig) => Promise<T>): Promise<T> {
  const loaded = loadConfig(configPath);
  const store = openStore(loaded.dataDir);
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
