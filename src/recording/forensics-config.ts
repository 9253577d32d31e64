import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';

/**
 * The top-level config block:
 *
 *   forensics:
 *     checkpointInterval: 10m                   # signed ledger checkpoints
 *     checkpointWebhook: https://audit.example/airlock-checkpoints   # optional; POSTed JSON, failures logged
 *     retentionInterval: 1h                     # how often expired sessions are purged
 *     compactAfter: 10m                         # re-encode an ended session's output in brotli blocks this long after; off: never
 *
 * Per-connection `retention: 90d` (already in the schema) sets how long a connection's sessions are kept.
 */
export const forensicsSchema = z
  .object({
    checkpointInterval: z.string().default('10m'),
    checkpointWebhook: z.string().url().optional(),
    retentionInterval: z.string().default('1h'),
    compactAfter: z.string().default('10m'),
  })
  .strict();

export interface ForensicsSettings {
  readonly checkpointIntervalMs: number;
  readonly checkpointWebhook: string | undefined;
  readonly retentionIntervalMs: number;
  /** How long after a session ended its recording is compacted (store/sqlite/compaction.mjs); null: never. */
  readonly compactAfterMs: number | null;
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 10 * 60_000;
export const DEFAULT_RETENTION_INTERVAL_MS = 60 * 60_000;

/** Reads `forensics:` from a parsed config when present, defaults otherwise. */
export function forensicsSettings(config: unknown): ForensicsSettings {
  const raw = config && typeof config === 'object' ? (config as Record<string, unknown>).forensics : undefined;
  const f = forensicsSchema.parse(raw ?? {});
  return {
    checkpointIntervalMs: parseDuration(f.checkpointInterval),
    checkpointWebhook: f.checkpointWebhook,
    retentionIntervalMs: parseDuration(f.retentionInterval),
    compactAfterMs: f.compactAfter === 'off' ? null : parseDuration(f.compactAfter),
  };
}
