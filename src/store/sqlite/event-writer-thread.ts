import { Worker } from 'node:worker_threads';
import type { EventRows } from './event-writer.mjs';
import { PermanentStoreError, isPermanentSqliteCode } from '../errors.ts';

/**
 * Posts event batches to the writer thread; each call resolves when its batch is committed. Batches are
 * written in the order posted. When one fails, the thread skips (fails) every batch posted before the failure
 * came back here — they carry the same epoch — so nothing is committed after a batch that was not.
 */
export class EventWriterThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private epoch = 0;
  private failed: Error | undefined;

  constructor(file: string) {
    this.worker = new Worker(new URL('./event-writer-worker.mjs', import.meta.url), { workerData: { file } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; epoch: number; error?: string; code?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) {
        this.epoch = Math.max(this.epoch, m.epoch + 1);
        p.reject(isPermanentSqliteCode(m.code) ? new PermanentStoreError(m.error, { code: m.code }) : new Error(m.error));
      }
      else p.resolve();
    });
    // Without its thread the store can write no event again.
    this.worker.on('error', (err) => this.fail(new PermanentStoreError(`event writer thread failed: ${err.message}`, { cause: err })));
    this.worker.on('exit', (code) => this.fail(new PermanentStoreError(`event writer thread exited (${code})`)));
  }

  write(rows: EventRows): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve: () => resolve(), reject });
      this.worker.ref();
      this.worker.postMessage({ id, epoch: this.epoch, rows });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    if (this.failed) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref(); // keep the process alive until the thread has closed its connection
    this.worker.postMessage('close');
    this.failed = new PermanentStoreError('event writer closed');
    await exited;
  }
}
