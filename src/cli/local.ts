import { loadConfig, type LoadedConfig } from '../config/load.ts';
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
