import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/logger.ts';
import type { LedgerEntry, Store } from '../store/types.ts';
import { GENESIS, ledgerHash } from './chain.ts';
import { DEFAULT_CHECKPOINT_INTERVAL_MS } from './forensics-config.ts';
import type { KeyRing } from './keys.ts';
import type { Checkpoint } from './ledger-check.ts';
import { merkleRoot } from './merkle-index.ts';
import { checkpointMessage } from './signatures.ts';

export type { Checkpoint } from './ledger-check.ts';
export { checkCheckpoint } from './ledger-check.ts';

/** Signs the given ledger head and the Merkle tree head over the same entries (tree size = ledger seq). */
export function signCheckpoint(keys: KeyRing, ledgerSeq: number, ledgerHashHex: string, rootHash: string, time = Date.now()): Checkpoint {
  const tree = { treeSize: ledgerSeq, rootHash };
  return { ledgerSeq, ledgerHash: ledgerHashHex, ...tree, time, keyId: keys.current.keyId, signature: keys.sign(checkpointMessage(ledgerSeq, ledgerHashHex, time, tree)) };
}

/**
 * Signs the current ledger head and appends a 'checkpoint' entry recording it. The returned checkpoint
 * covers the head before that entry; publish it (file, webhook) so a later truncation or rewrite of the
 * ledger shows. Indexes the Merkle tree up to the head first (only the entries new since the last time).
 */
export async function createCheckpoint(store: Store, keys: KeyRing, now = Date.now()): Promise<{ checkpoint: Checkpoint; entry: LedgerEntry }> {
  const head = await store.ledgerHead();
  const size = head?.seq ?? 0;
  const root = await merkleRoot(store, size);
  const checkpoint = signCheckpoint(keys, size, head?.hash ?? GENESIS, root.toString('hex'), now);
  const data = { ...checkpoint };
  const entry = await store.appendLedger({ kind: 'checkpoint', sessionId: null, time: now, data }, (prevHash, seq) =>
    ledgerHash(prevHash, { seq, kind: 'checkpoint', sessionId: null, time: now, data }),
  );
  return { checkpoint, entry };
}

export interface PublishOptions {
  readonly dataDir: string;
  /** POSTed as JSON; a failure is logged, never thrown. */
  readonly webhookUrl?: string;
  readonly log?: Logger;
  readonly timeoutMs?: number;
}

export interface PublishResult {
  readonly files: string[];
  readonly webhook: 'sent' | 'failed' | 'none';
  /** Why the webhook failed. */
  readonly error?: string;
}

export function checkpointDir(dataDir: string): string {
  return join(dataDir, 'checkpoints');
}

export function latestCheckpointFile(dataDir: string): string {
  return join(checkpointDir(dataDir), 'latest.json');
}

/** Writes `checkpoints/latest.json` (atomically), appends to `checkpoints/checkpoints.jsonl`, and POSTs to the webhook. */
export async function publishCheckpoint(cp: Checkpoint, opts: PublishOptions): Promise<PublishResult> {
  const dir = checkpointDir(opts.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const latest = latestCheckpointFile(opts.dataDir);
  const log = join(dir, 'checkpoints.jsonl');
  const json = JSON.stringify(cp);
  appendFileSync(log, `${json}\n`);
  const tmp = `${latest}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(cp, null, 2)}\n`);
  renameSync(tmp, latest);
  if (!opts.webhookUrl) return { files: [latest, log], webhook: 'none' };
  try {
    const res = await fetch(opts.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'airlock.checkpoint', checkpoint: cp }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return { files: [latest, log], webhook: 'sent' };
  } catch (err) {
    opts.log?.warn({ err: (err as Error).message, ledgerSeq: cp.ledgerSeq }, 'checkpoint webhook failed');
    return { files: [latest, log], webhook: 'failed', error: (err as Error).message };
  }
}

/**
 * Reads a published checkpoint: a JSON file (latest.json) or JSON Lines (checkpoints.jsonl, the one
 * covering the highest ledger seq wins). Throws on a file that holds none.
 */
export function readCheckpointFile(file: string): Checkpoint {
  const text = readFileSync(file, 'utf8').trim();
  const candidates: unknown[] = [];
  try {
    candidates.push(JSON.parse(text));
  } catch {
    for (const line of text.split('\n')) if (line.trim()) candidates.push(JSON.parse(line));
  }
  let best: Checkpoint | undefined;
  for (const c of candidates) {
    if (!isCheckpoint(c)) throw new Error(`${file}: not a checkpoint`);
    if (!best || c.ledgerSeq > best.ledgerSeq) best = c;
  }
  if (!best) throw new Error(`${file}: no checkpoint`);
  return best;
}

/** The last checkpoint published in the data dir, if any. */
export function readLatestCheckpoint(dataDir: string): Checkpoint | undefined {
  const file = latestCheckpointFile(dataDir);
  return existsSync(file) ? readCheckpointFile(file) : undefined;
}

export function isCheckpoint(v: unknown): v is Checkpoint {
  if (!v || typeof v !== 'object') return false;
  const c = v as Record<string, unknown>;
  const tree = c.treeSize === undefined && c.rootHash === undefined ? true : typeof c.treeSize === 'number' && typeof c.rootHash === 'string';
  return typeof c.ledgerSeq === 'number' && typeof c.ledgerHash === 'string' && typeof c.time === 'number' && typeof c.keyId === 'string' && typeof c.signature === 'string' && tree;
}

export interface CheckpointingOptions extends PublishOptions {
  readonly store: Store;
  readonly keys: KeyRing;
  /** Default 10 minutes. */
  readonly intervalMs?: number;
}

/**
 * Creates and publishes a checkpoint every interval (skipped while nothing was appended since the last
 * one). Errors are logged. Returns a stop function that also waits for a run in progress.
 */
export function startCheckpointing(opts: CheckpointingOptions): () => Promise<void> {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = async () => {
    try {
      const head = await opts.store.ledgerHead();
      if (head?.kind === 'checkpoint') return;
      const { checkpoint } = await createCheckpoint(opts.store, opts.keys);
      await publishCheckpoint(checkpoint, opts);
      opts.log?.debug({ ledgerSeq: checkpoint.ledgerSeq }, 'ledger checkpoint published');
    } catch (err) {
      opts.log?.error({ err: (err as Error).message }, 'ledger checkpoint failed');
    }
  };
  const timer = setInterval(() => {
    if (stopped || running) return;
    running = run().finally(() => (running = undefined));
  }, opts.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
