import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { storeConformance } from './conformance.ts';

storeConformance('sqlite', async () => new SqliteStore(':memory:'));
