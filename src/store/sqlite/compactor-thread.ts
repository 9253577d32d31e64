import { Worker } from 'node:worker_threads';
import type { Logger } from '../../core/logger.ts';
import type { CompactionResult } from './compaction.mjs';

/** What the compactor thread reports: one per session tried, and one when a round ends and it goes idle. */
export type CompactionReport =
  | ({ readonly sessionId: string } & CompactionResult)
  | { readonly sessionId: string; readonly outcome: 'failed'; readonly error: string }
  | { readonly outcome: 'idle'; readonly waitMs: number };

export interface CompactorOptions {
  /** Sessions are compacted this long after they ended. */
  readonly afterMs: number;
  /** Longest sleep between two rounds (sessions that ended meanwhile are found by the next). */
  readonly pollMs?: number;
  /** Payload bytes at which a block is closed (compaction.mjs BLOCK_TARGET). */
  readonly blockTarget?: number;
  readonly log?: Logger;
  readonly onReport?: (r: CompactionReport) => void;
}

/** Runs compactor-worker.mjs on its own connection to the store file; close() waits for it to let go of the file. */
export class CompactorThread {
  private readonly worker: Worker;
  private readonly exited: Promise<void>;
  /** The thread's OS id and niceness once it has lowered its priority (Linux); undefined before or elsewhere. */
  thread: { readonly tid: number; readonly nice: number } | undefined;

  constructor(file: string, o: CompactorOptions) {
    this.worker = new Worker(new URL('./compactor-worker.mjs', import.meta.url), {
      workerData: { file, afterMs: o.afterMs, pollMs: o.pollMs ?? 60_000, blockTarget: o.blockTarget },
    });
    this.worker.unref(); // an idle compactor never keeps the process alive
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (r: CompactionReport | { thread: { tid: number; nice: number } | null }) => {
      if ('thread' in r) {
        this.thread = r.thread ?? undefined;
        return;
      }
      if (r.outcome === 'failed') o.log?.warn({ session: r.sessionId, err: r.error }, 'compaction: session left as it is');
      else if (r.outcome === 'compacted') {
        o.log?.debug({ session: r.sessionId, events: r.events, rawBytes: r.rawBytes, blockBytes: r.blockBytes, ms: Math.round(r.compressMs + r.writeMs) }, 'compaction: session compacted');
      }
      o.onReport?.(r);
    });
    this.worker.on('error', (err) => o.log?.error({ err: err.message }, 'compaction thread failed'));
  }

  /** A session ended (in this process): the thread, if idle, wakes when that session is due. */
  ended(endedAt: number): void {
    this.worker.postMessage({ endedAt });
  }

  /** Stops once the block being compressed, if any, is done (a full block takes two to three seconds); nothing is written. */
  async close(): Promise<void> {
    this.worker.ref(); // keep the process alive until the thread has closed its connection
    this.worker.postMessage('close');
    await this.exited;
  }
}
