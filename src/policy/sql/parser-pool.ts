/**
 * Classification of long SQL texts off the event loop, in a child process that can be thrown away.
 *
 * The parser is WebAssembly: a pathological statement (megabytes of `SELECT 1;`, a deeply nested `1+1+…`) takes
 * seconds and can exhaust its memory, after which that instance fails every statement. On the event loop that stalls
 * every session and, once the memory is gone, denies every statement of every user until a restart. Here a text
 * longer than INLINE_CHARS goes to a child process with a bounded heap and a deadline per statement; one that runs
 * out of memory, crashes or misses the deadline is killed and replaced, and the statement it was on is unknown
 * (`parseError`), which no rule allows by default. A child process, not a worker thread: a worker that reaches its
 * heap limit inside JSON.parse (the parse tree) aborts the whole Node.js process. Short texts stay inline (cached,
 * tens of µs; a round trip to the child costs more than their classification). If the inline parser itself ever
 * fails (a WebAssembly trap), every text goes to the child from then on.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SqlClassification } from './classify.ts';

/** Texts up to this many UTF-16 code units are classified inline (the cache's limit too). */
export const INLINE_CHARS = 8 * 1024;
/** A statement the worker has not classified by then is unknown, and the worker is replaced. */
const DEADLINE_MS = 10_000;
/** The child's JavaScript heap (parse trees are JSON there); past it the child dies, not the gateway. */
const HEAP_MB = 512;
/** Past this resident size after a statement the child leaves and a fresh one starts (WebAssembly memory never shrinks). */
const RSS_MB = 1024;
const SCRIPT = fileURLToPath(new URL('./parser-process.mjs', import.meta.url));

export interface ParserPoolOptions {
  /** Workers at most (default 1: long statements are rare, and the machine's cores serve the sessions). */
  readonly size?: number;
  readonly deadlineMs?: number;
  readonly heapMb?: number;
}

interface Job {
  readonly text: string;
  readonly resolve: (c: SqlClassification) => void;
}

class ParserWorker {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private job: Job | undefined;
  private timer: NodeJS.Timeout | undefined;
  dead = false;

  constructor(
    private readonly onIdle: () => void,
    private readonly deadlineMs: number,
    heapMb: number,
  ) {
    this.child = fork(SCRIPT, [], {
      execArgv: [`--max-old-space-size=${heapMb}`],
      env: { ...process.env, AIRLOCK_PARSER_RSS_MB: String(RSS_MB) },
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    this.setRef(false);
    this.ready = new Promise((resolve) => {
      this.child.on('message', (m: { ready?: true; result?: SqlClassification }) => {
        if (m.ready) return resolve();
        this.settle(m.result ?? { statements: [], parseError: 'the SQL parser gave no result' });
      });
    });
    this.child.on('error', (err) => this.die(`the SQL parser failed on this statement (${err.message})`));
    this.child.on('exit', (code, signal) => this.die(describeExit(code, signal)));
  }

  /** An idle child does not keep the gateway's process alive. */
  private setRef(on: boolean): void {
    const channel = this.child.channel as { ref(): void; unref(): void } | null | undefined;
    if (on) {
      this.child.ref();
      channel?.ref();
    } else {
      this.child.unref();
      channel?.unref();
    }
  }

  get busy(): boolean {
    return this.job !== undefined;
  }

  run(job: Job): void {
    this.job = job;
    this.setRef(true);
    void this.ready.then(() => {
      if (this.job !== job || this.dead) return;
      this.timer = setTimeout(() => this.die(`statement took longer than ${this.deadlineMs / 1000} s to check`), this.deadlineMs);
      this.child.send({ text: job.text });
    });
  }

  private settle(result: SqlClassification): void {
    const job = this.job;
    this.job = undefined;
    clearTimeout(this.timer);
    this.setRef(false);
    job?.resolve(result);
    this.onIdle();
  }

  /** Ends this worker; the statement it was on is unknown for `reason`. */
  die(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.timer);
    this.child.kill('SIGKILL');
    const job = this.job;
    this.job = undefined;
    job?.resolve({ statements: [], parseError: reason });
    this.onIdle();
  }
}

/** Why the child ended while on a statement: V8 aborts (SIGABRT) when the heap limit is reached. */
function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGABRT' || code === 134) return 'the SQL parser ran out of memory on this statement';
  return `the SQL parser stopped on this statement (${signal ?? `exit ${code}`})`;
}

/** Workers classifying long texts, replaced whenever one fails; jobs wait in order for a free one. */
export class ParserPool {
  private readonly workers: ParserWorker[] = [];
  private readonly queue: Job[] = [];

  constructor(private readonly options: ParserPoolOptions = {}) {}

  classify(text: string): Promise<SqlClassification> {
    return new Promise((resolve) => {
      this.queue.push({ text, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (let i = this.workers.length - 1; i >= 0; i--) if (this.workers[i]!.dead) this.workers.splice(i, 1);
    while (this.queue.length > 0) {
      let w = this.workers.find((x) => !x.busy && !x.dead);
      if (!w && this.workers.length < (this.options.size ?? 1)) {
        w = new ParserWorker(() => this.dispatch(), this.options.deadlineMs ?? DEADLINE_MS, this.options.heapMb ?? HEAP_MB);
        this.workers.push(w);
      }
      if (!w) return;
      w.run(this.queue.shift()!);
    }
  }

  /** Ends every worker (their statements are unknown). */
  close(): void {
    for (const w of this.workers) w.die('the gateway is stopping');
    this.workers.length = 0;
  }
}
