import type Database from 'better-sqlite3';
export const BLOCK_TARGET: number;
export const BLOCK_QUALITY: number;
export const CATCH_UP_QUALITY: number;

export type CompactionOutcome = 'compacted' | 'changed' | 'gone';

export interface CompactionResult {
  readonly outcome: CompactionOutcome;
  /** The brotli quality the blocks were written with. */
  readonly quality: number;
  readonly events: number;
  readonly blocks: number;
  /** Bytes of JSON payload put into blocks. */
  readonly rawBytes: number;
  /** What those payloads took before (deflated or plain), and what the blocks take. */
  readonly replacedBytes: number;
  readonly blockBytes: number;
  readonly compressMs: number;
  readonly writeMs: number;
}

export interface Compactor {
  due(cutoff: number, afterEndedAt?: number, afterId?: string): { id: string; endedAt: number } | undefined;
  nextEnd(cutoff: number): number | undefined;
  compact(sessionId: string, stopped?: () => boolean, now?: () => number, quality?: number): Promise<CompactionResult | { outcome: 'stopped' }>;
}

/** `blockTarget`: payload bytes at which a block is closed (BLOCK_TARGET). */
export function createCompactor(db: Database.Database, options?: { blockTarget?: number }): Compactor;
