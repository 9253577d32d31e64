import type { Store } from '../src/store/types.ts';

/** A store that takes what the Recorder writes and keeps nothing: what recording costs before any storage. */
export function nullStore(): Store {
  const store = {
    async appendEvents(): Promise<void> {},
    async insertSession(): Promise<void> {},
    async endSession(): Promise<void> {},
    async appendLedger(e: object): Promise<object> {
      return e;
    },
    async close(): Promise<void> {},
  };
  return store as unknown as Store;
}
