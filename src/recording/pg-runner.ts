import { connect, type Socket } from 'node:net';
import type { PostgresConnectionConfig } from '../config/schema.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { BackendCode } from '../protocols/postgres/codec/codes.ts';
import { decodeCommandComplete, decodeErrorFields, decodeRowDescription, type FieldDescription } from '../protocols/postgres/codec/backend.ts';
import { FrameReader, type Frame } from '../protocols/postgres/codec/frame-reader.ts';
import {
  encodeBind, encodeCancelRequest, encodeCopyFail, encodeDescribe, encodeExecute, encodeParse, encodeQuery, encodeSync, encodeTerminate,
} from '../protocols/postgres/codec/frontend.ts';
import { connectTarget } from '../protocols/postgres/target.ts';

/**
 * A minimal PostgreSQL client over the gateway's own codec and target handshake (TLS, SCRAM, md5…),
 * for re-running recorded statements. It speaks exactly the two shapes the gateway records — one
 * simple Query, or Parse/Bind/Describe/Execute/Sync with text parameters — and reports every
 * statement result of it, so multi-statement simple queries compare result by result.
 */

export interface StatementResult {
  readonly tag: string;
  readonly rows: number;
  readonly columns?: string[];
}

export interface RunError {
  readonly code: string | null;
  readonly severity: string | null;
  readonly message: string;
}

export interface RunOutcome {
  /** Completed statements, in order (a simple query with several statements has several). */
  readonly results: StatementResult[];
  /** The error that ended it, if any (later statements of a simple query then do not run). */
  readonly error?: RunError;
}

/** Sees every backend frame of a statement, e.g. to record it like the gateway does. */
export interface FrameObserver {
  frame(f: Frame): void;
}

const COPY_REFUSED = 'airlock replay: COPY FROM STDIN data is not recorded, so it cannot be re-sent';

interface Pending {
  readonly mode: 'simple' | 'extended';
  readonly observer: FrameObserver | undefined;
  readonly results: StatementResult[];
  columns: FieldDescription[] | undefined;
  rows: number;
  error?: RunError;
  resolve(o: RunOutcome): void;
  reject(e: Error): void;
}

export class PgRunner {
  private readonly reader: FrameReader;
  private pending: Pending | undefined;
  private failure: Error | undefined;

  private constructor(
    private readonly socket: Socket,
    maxFrameBytes: number,
    remainder: Buffer,
    private readonly cancelTarget: { host: string; port: number; pid: number; secret: number } | undefined,
  ) {
    this.reader = new FrameReader(maxFrameBytes);
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('error', (err) => this.fail(new AirlockError(ErrorCodes.target, `connection to target failed: ${err.message}`, { cause: err })));
    socket.on('close', () => this.fail(new AirlockError(ErrorCodes.target, 'the target closed the connection')));
    if (remainder.length) this.onData(remainder);
    socket.resume();
  }

  static async connect(cfg: PostgresConnectionConfig, options: { application?: string; maxFrameBytes?: number } = {}): Promise<PgRunner> {
    const maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    const params = new Map([['application_name', options.application ?? 'airlock replay'], ['client_encoding', 'UTF8']]);
    const t = await connectTarget(cfg, params, maxFrameBytes);
    const key = t.backendKey;
    return new PgRunner(t.socket, maxFrameBytes, t.remainder, key && { host: cfg.host, port: cfg.port, pid: key.pid, secret: key.secret });
  }

  /** One simple-protocol Query (may hold several statements). */
  simple(text: string, observer?: FrameObserver): Promise<RunOutcome> {
    return this.run('simple', observer, [encodeQuery(text)]);
  }

  /** One unnamed statement through the extended protocol, with text parameters. */
  extended(text: string, params: readonly (string | null)[], observer?: FrameObserver): Promise<RunOutcome> {
    return this.run('extended', observer, [encodeParse('', text), encodeBind('', '', params), encodeDescribe('P', ''), encodeExecute('', 0), encodeSync()]);
  }

  /** Abandons the connection; a statement under way fails with `reason` and is cancelled on the target. */
  abort(reason: string): void {
    const running = this.pending !== undefined;
    this.fail(new AirlockError(ErrorCodes.target, reason));
    this.socket.destroy();
    const c = this.cancelTarget;
    if (running && c) {
      // As the gateway forwards cancels: a CancelRequest on a new plain connection, best effort.
      const s = connect({ host: c.host, port: c.port }, () => s.end(encodeCancelRequest(c.pid, c.secret)));
      s.on('error', () => {});
      s.setTimeout(5000, () => s.destroy());
    }
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end(encodeTerminate());
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000).unref();
    });
  }

  private run(mode: 'simple' | 'extended', observer: FrameObserver | undefined, messages: Buffer[]): Promise<RunOutcome> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.pending) return Promise.reject(new Error('PgRunner: one statement at a time'));
    return new Promise<RunOutcome>((resolve, reject) => {
      this.pending = { mode, observer, results: [], columns: undefined, rows: 0, resolve, reject };
      this.socket.write(Buffer.concat(messages));
    });
  }

  private onData(chunk: Buffer): void {
    this.reader.push(chunk);
    try {
      for (let f = this.reader.next(); f; f = this.reader.next()) this.onFrame(f);
    } catch (err) {
      this.fail(err as Error);
      this.socket.destroy();
    }
  }

  private onFrame(f: Frame): void {
    const p = this.pending;
    if (!p) return; // ParameterStatus, notices between statements
    p.observer?.frame(f);
    switch (f.code) {
      case BackendCode.RowDescription:
        p.columns = decodeRowDescription(f.body);
        return;
      case BackendCode.DataRow:
        p.rows++;
        return;
      case BackendCode.CommandComplete: {
        const { tag, rows } = decodeCommandComplete(f.body);
        p.results.push({ tag, rows: rows ?? p.rows, ...(p.columns ? { columns: p.columns.map((c) => c.name) } : {}) });
        p.columns = undefined;
        p.rows = 0;
        return;
      }
      case BackendCode.EmptyQueryResponse:
        p.results.push({ tag: '', rows: 0 });
        return;
      case BackendCode.ErrorResponse: {
        const e = decodeErrorFields(f.body);
        p.error ??= { code: e.C ?? null, severity: e.S ?? null, message: e.M ?? '' };
        return;
      }
      case BackendCode.CopyInResponse:
        // Extended protocol: the Sync already sent was ignored in copy-in mode, so send another.
        this.socket.write(p.mode === 'extended' ? Buffer.concat([encodeCopyFail(COPY_REFUSED), encodeSync()]) : encodeCopyFail(COPY_REFUSED));
        return;
      case BackendCode.CopyBothResponse:
        this.fail(new AirlockError(ErrorCodes.target, 'replication (COPY BOTH) statements cannot be re-run'));
        this.socket.destroy();
        return;
      case BackendCode.ReadyForQuery: {
        this.pending = undefined;
        p.resolve(p.error ? { results: p.results, error: p.error } : { results: p.results });
        return;
      }
      default:
        return;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(this.failure);
  }
}
