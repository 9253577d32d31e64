import type { Config } from '../config/schema.ts';
import { parseDuration } from '../core/duration.ts';
import type { Logger } from '../core/logger.ts';
import type { SessionRecord, Store } from '../store/types.ts';
import { ledgerHash } from './chain.ts';
import { DEFAULT_RETENTION_INTERVAL_MS } from './forensics-config.ts';
import type { KeyRing } from './keys.ts';
import { tombstoneMessage } from './signatures.ts';

export interface PurgeResult {
  /** Sessions deleted, each with a tombstone in the ledger. */
  readonly purged: string[];
  /** Expired sessions kept, and why. */
  readonly skipped: { readonly sessionId: string; readonly reason: string }[];
  /** Bytes the store gave back to the file system after the purge (Store.reclaimSpace). */
  reclaimedBytes: number;
}

/** Retention per connection name, in ms; connections without `retention` keep their sessions forever. */
export function retentionPolicies(config: Pick<Config, 'connections'>): Map<string, { ms: number; policy: string }> {
  const out = new Map<string, { ms: number; policy: string }>();
  for (const [name, c] of Object.entries(config.connections)) {
    if (c.retention) out.set(name, { ms: parseDuration(c.retention), policy: c.retention });
  }
  return out;
}

/**
 * Deletes every ended session older than its connection's retention and not on legal hold. Each deletion
 * is preceded by a signed 'tombstone' ledger entry naming the session's seal, so verification expects the
 * session to be gone. A tombstone left by an interrupted purge is completed, not repeated. Sessions without
 * a seal are kept (verification reports them).
 */
export async function purgeExpired(store: Store, keys: KeyRing, config: Pick<Config, 'connections'>, now = Date.now(), log?: Logger): Promise<PurgeResult> {
  const policies = retentionPolicies(config);
  const result: PurgeResult = { purged: [], skipped: [], reclaimedBytes: 0 };
  if (policies.size === 0) return result;

  const expired: { session: SessionRecord; policy: string }[] = [];
  for await (const s of store.readSessions()) {
    const p = policies.get(s.connection);
    if (!p || s.endedAt === null || s.endedAt + p.ms > now) continue;
    if (s.legalHold) result.skipped.push({ sessionId: s.id, reason: 'legal hold' });
    else expired.push({ session: s, policy: p.policy });
  }
  if (expired.length === 0) return result;

  const wanted = new Set(expired.map((x) => x.session.id));
  const seals = new Map<string, string>();
  const tombstoned = new Set<string>();
  for await (const e of store.readLedger()) {
    if (!e.sessionId || !wanted.has(e.sessionId)) continue;
    if (e.kind === 'seal' && !seals.has(e.sessionId)) seals.set(e.sessionId, e.hash);
    if (e.kind === 'tombstone') tombstoned.add(e.sessionId);
  }

  for (const { session, policy } of expired) {
    const id = session.id;
    if (!tombstoned.has(id)) {
      const sealHash = seals.get(id);
      if (!sealHash) {
        result.skipped.push({ sessionId: id, reason: 'no seal in the ledger' });
        log?.warn({ session: id }, 'retention: expired session has no seal; kept');
        continue;
      }
      // Re-read: a hold placed since the scan wins.
      const current = await store.getSession(id);
      if (!current) continue;
      if (current.legalHold) {
        result.skipped.push({ sessionId: id, reason: 'legal hold' });
        continue;
      }
      const purgedAt = now;
      const data = {
        sessionId: id, sealHash, purgedAt, policy,
        keyId: keys.current.keyId, signature: keys.sign(tombstoneMessage(id, sealHash, purgedAt, policy)),
      };
      await store.appendLedger({ kind: 'tombstone', sessionId: id, time: purgedAt, data }, (prevHash, seq) =>
        ledgerHash(prevHash, { seq, kind: 'tombstone', sessionId: id, time: purgedAt, data }),
      );
    }
    await store.deleteSession(id);
    result.purged.push(id);
  }
  if (result.purged.length) {
    // Audited like any administrative change; the row names no session (each has its tombstone in the ledger).
    await store.appendAudit({ time: now, subject: 'airlock:retention', action: 'retention.purge', target: null, detail: { sessions: result.purged.length, kept: result.skipped.length } });
    result.reclaimedBytes = await store.reclaimSpace();
    log?.info({ sessions: result.purged.length, reclaimedBytes: result.reclaimedBytes }, 'retention: purged expired sessions');
  }
  return result;
}

export interface RetentionOptions {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly config: Pick<Config, 'connections'>;
  /** Default hourly. */
  readonly intervalMs?: number;
  /** First run after this delay (default: the smaller of a minute and the interval). */
  readonly firstRunMs?: number;
  readonly log?: Logger;
}

/** Runs purgeExpired periodically; errors are logged. Returns a stop function that waits for a run in progress. */
export function startRetention(opts: RetentionOptions): () => Promise<void> {
  const intervalMs = opts.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
  let running: Promise<void> | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout;
  const tick = () => {
    if (stopped) return;
    running = purgeExpired(opts.store, opts.keys, opts.config, Date.now(), opts.log)
      .then(
        () => undefined,
        (err: Error) => opts.log?.error({ err: err.message }, 'retention run failed'),
      )
      .finally(() => {
        running = undefined;
        if (!stopped) schedule(intervalMs);
      });
  };
  const schedule = (ms: number) => {
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  schedule(opts.firstRunMs ?? Math.min(60_000, intervalMs));
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}
