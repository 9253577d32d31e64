import { join } from 'node:path';
import type { Store } from './types.ts';
import { SqliteStore } from './sqlite/sqlite-store.ts';

/** The embedded store in the data dir. (A PostgreSQL backend will be chosen here by config.) */
export function openStore(dataDir: string): Store {
  return new SqliteStore(join(dataDir, 'airlock.db'));
}
