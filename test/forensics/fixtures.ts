import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.ts';
import { KeyRing } from '../../src/recording/keys.ts';
import { Recorder } from '../../src/recording/recorder.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';

/** An in-memory store, a KeyRing in a temp data dir and the real Recorder, for forensic tests. */
export interface Forensics {
  readonly dir: string;
  readonly store: SqliteStore;
  keys: KeyRing;
  recorder: Recorder;
  /** Records a closed session with `queries` query/result pairs; returns its id. */
  session(opts?: { queries?: number; connection?: string; subject?: string; open?: boolean }): Promise<string>;
  /** Replaces the signing key (the old public key stays, with a validUntil). */
  rotate(now?: number): KeyRing;
  cleanup(): Promise<void>;
}

export function forensics(): Forensics {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-forensics-'));
  const store = new SqliteStore(':memory:');
  const f: Forensics = {
    dir,
    store,
    keys: KeyRing.load(dir),
    recorder: undefined as unknown as Recorder,
    async session(opts = {}) {
      const s = await f.recorder.open({
        protocol: 'postgres',
        connection: opts.connection ?? 'pg-main',
        identity: { subject: opts.subject ?? 'alice', groups: ['dba'], kind: 'user', authMethod: 'token', credentialId: 'tok_1' },
        clientAddress: '127.0.0.1:50000',
        application: 'psql',
      });
      for (let i = 0; i < (opts.queries ?? 3); i++) {
        s.record('db.query', { text: `select ${i}` }, { searchText: `select ${i}`, outcome: 'allowed' });
        s.record('db.result', { tag: 'SELECT 1', rows: 1, durationMs: 0.5 });
      }
      s.bytesIn = 100;
      s.bytesOut = 200;
      if (opts.open) await f.recorder.flush();
      else await s.end('client_terminated');
      return s.id;
    },
    rotate(now = Date.now()) {
      rmSync(join(dir, 'keys', 'signing-ed25519.pem'));
      f.keys = KeyRing.load(dir, now);
      f.recorder = new Recorder(store, f.keys, silentLogger);
      return f.keys;
    },
    async cleanup() {
      await f.recorder.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  f.recorder = new Recorder(store, f.keys, silentLogger);
  return f;
}
