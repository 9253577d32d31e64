/**
 * A write failure that retrying cannot heal: the batch conflicts with what the store holds (another writer sealed
 * the session), the store is corrupt, or its writer is gone. The recorder stops on it instead of retrying forever.
 */
export class PermanentStoreError extends Error {
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PermanentStoreError';
    this.code = options.code;
  }

  readonly code: string | undefined;
}

/** SQLite result codes no retry can get past. https://www.sqlite.org/rescode.html */
const PERMANENT_SQLITE = /^SQLITE_(CONSTRAINT|CORRUPT|NOTADB|MISMATCH)/;

export function isPermanentSqliteCode(code: string | undefined): boolean {
  return code !== undefined && PERMANENT_SQLITE.test(code);
}

/** Whether `err`, or an error it was caused by, is a PermanentStoreError. */
export function isPermanentStoreError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) if (e instanceof PermanentStoreError) return true;
  return false;
}
