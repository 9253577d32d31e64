import { createHmac, type Hmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ValueMasker } from '../../policy/connection-policies.ts';
import type { SessionRecorder } from '../../recording/recorder.ts';
import type { RecordingLimits } from '../../config/schema.ts';
import { dataRowColumnCount, decodeCommandComplete, decodeDataRow, type FieldDescription } from './codec/backend.ts';
import { FRAME_HEADER, type Frame } from './codec/frame-reader.ts';
import { executedNames } from './sql-prepare.ts';

/** A text that may hold a SQL EXECUTE (looked at closely by executedNames). */
const EXECUTE = /\bexecute\b/i;
import { binaryValueText } from './codec/binary-values.ts';

interface Execution {
  readonly querySeq: number;
  readonly mode: 'simple' | 'extended';
  readonly statement: string | undefined;
  /** The statement text as sent (unmasked, never stored): what a PREPARE in it prepared (sql-prepare.ts). */
  readonly text: string;
  readonly startedAt: number;
  /** The Query or Sync that ends it: the target answers each with one ReadyForQuery. */
  readonly batch: number;
  columns: FieldDescription[] | undefined;
  /** Result format codes from the Bind (extended protocol): they, not a Describe of the statement, say which values are binary. */
  readonly formats: readonly number[] | undefined;
  rows: number;
  sample: (string | null)[][];
  sampleBytes: number;
  truncated: boolean;
  /** Rows came with no description the log knows (an Execute never described): column rules cannot apply, so no sample is kept. */
  undescribed: boolean;
  copyBytes: number;
  results: number;
  /** HMAC-SHA-256 over every DataRow of the current result, whole frames in order (see `digestKey`). */
  digest: Hmac | undefined;
}

/** The key of the result digests and the id of the secret it comes from (KeyRing.resultDigestKey). */
export interface DigestKey {
  readonly key: Buffer;
  readonly id: string;
}

/** Renders one wire value as text for the record (masked after): text format as is, binary decoded or by size (see binaryValueText). */
export function valueText(value: Buffer | null, format: number, typeOid?: number): string | null {
  if (value === null) return null;
  return format === 0 ? value.toString('utf8') : binaryValueText(value, typeOid);
}

/** The format code of column `i` under a Bind's result format codes (none: all text; one: all alike). */
export function formatOf(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0] : (formats[i] ?? 0);
}

/**
 * Follows statements through their results and records them: db.query when a statement starts,
 * db.result / db.error when it ends, with the first `maxRows` rows / `maxBytes` bytes (masked) and the
 * counts always. Results are attributed in order: the target answers statements in the order sent.
 */
export class StatementLog {
  private readonly queue: Execution[] = [];
  /** Queries and Syncs sent to the target, and ReadyForQuery messages it has answered them with. */
  private batchesSent = 0;
  private batchesAnswered = 0;
  /** Result columns per prepared statement, for Execute without a Describe (pgbench -M prepared). */
  private readonly statementColumns = new Map<string, FieldDescription[]>();

  constructor(
    private readonly rec: SessionRecorder,
    private readonly mask: ValueMasker,
    private readonly limits: RecordingLimits,
    private readonly counts: Record<string, number>,
    /** Keys the digest of every result's rows (db.result `digest`); none: no digest is recorded. */
    private readonly digestKey?: DigestKey,
  ) {}

  /** The text a statement name stands for now (PreparedStatements), for the record of an EXECUTE of it. */
  preparedText: (name: string) => string | undefined = () => undefined;

  get pending(): number {
    return this.queue.length;
  }

  /** Masked statement texts of this session: clients repeat the same text with new parameters. */
  private readonly maskedTexts = new Map<string, { masked: string; counts: Record<string, number> }>();

  private maskStatement(text: string): string {
    let hit = this.maskedTexts.get(text);
    if (!hit) {
      const counts: Record<string, number> = {};
      hit = { masked: this.mask.maskText(text, counts), counts };
      if (this.maskedTexts.size >= 256) this.maskedTexts.clear();
      if (text.length <= 4096) this.maskedTexts.set(text, hit);
    }
    for (const k in hit.counts) this.counts[k] = (this.counts[k] ?? 0) + hit.counts[k];
    return hit.masked;
  }

  begin(text: string, params: readonly (string | null)[] | undefined, mode: 'simple' | 'extended', statement?: string, formats?: readonly number[]): void {
    const masked = this.maskStatement(text);
    // Keys in sorted order: the recorder's canonical JSON then takes its fast path.
    const data: Record<string, unknown> = { mode };
    if (params && params.length) data.params = params.map((p) => (p === null ? null : this.mask.maskText(p, this.counts)));
    if (EXECUTE.test(text)) {
      // SQL EXECUTE runs a prepared statement: the record names it with the text it stands for (null: not known).
      const names = executedNames(text);
      if (names.length) data.prepared = names.map((name) => ({ name, text: ((t) => (t === undefined ? null : this.maskStatement(t)))(this.preparedText(name)) }));
    }
    if (statement) data.statement = statement;
    data.text = masked;
    const querySeq = this.rec.record('db.query', data, { searchText: masked, outcome: 'allowed' });
    this.queue.push({
      querySeq, mode, statement, text, startedAt: performance.now(), batch: this.batchesSent, columns: statement !== undefined ? this.statementColumns.get(statement) : undefined, formats,
      rows: 0, sample: [], sampleBytes: 0, truncated: false, undescribed: false, copyBytes: 0, results: 0, digest: undefined,
    });
  }

  /** A Parse replaces the statement of that name: a description of the old one no longer applies. */
  forgetStatement(name: string): void {
    this.statementColumns.delete(name);
  }

  /** RowDescription: describes the head statement's rows (or a Describe with nothing executing). */
  columns(fields: FieldDescription[], describedStatement?: string): void {
    if (describedStatement !== undefined) this.statementColumns.set(describedStatement, fields);
    const head = this.queue[0];
    if (head) {
      head.columns = fields;
      if (head.statement !== undefined) this.statementColumns.set(head.statement, fields);
    }
  }

  /** True while DataRows are only counted: the sample of the statement they belong to is full. */
  get countingRows(): boolean {
    const head = this.queue[0];
    return head !== undefined && head.truncated;
  }

  /** A run of DataRows past the sample (`count` whole frames in `bytes`), counted and hashed without being looked at (see `countingRows`). */
  skippedRows(count: number, bytes: Buffer): void {
    const head = this.queue[0];
    if (!head) return;
    head.rows += count;
    this.hash(head, bytes);
  }

  private hash(head: Execution, bytes: Buffer): void {
    if (!this.digestKey) return;
    (head.digest ??= createHmac('sha256', this.digestKey.key)).update(bytes);
  }

  /** A DataRow: counted always, decoded only while the sample has room (its body is not even sliced after). */
  row(frame: Frame): void {
    const head = this.queue[0];
    if (!head) return;
    head.rows++;
    this.hash(head, frame.bytes);
    if (head.truncated) return;
    const bodyLength = frame.bytes.length - FRAME_HEADER;
    const cols = head.columns;
    if (cols === undefined || cols.length !== dataRowColumnCount(frame.body)) {
      head.truncated = head.undescribed = true;
      return;
    }
    if (head.sample.length >= this.limits.maxRows || head.sampleBytes + bodyLength > this.limits.maxBytes) {
      head.truncated = true;
      return;
    }
    const values = decodeDataRow(frame.body);
    const formats = head.formats;
    head.sample.push(
      values.map((v, i) => {
        const text = valueText(v, formats ? formatOf(formats, i) : cols[i].format, cols[i].typeOid);
        return text === null ? null : this.mask.maskValue(cols[i].name, text, this.counts);
      }),
    );
    head.sampleBytes += bodyLength;
  }

  copyData(bytes: number): void {
    const head = this.queue[0];
    if (head) head.copyBytes += bytes;
  }

  /** CommandComplete of the head statement; returns its tag, its text as sent and which of the text's statements ended. */
  complete(body: Buffer): { tag: string; text: string; index: number } | undefined {
    const head = this.queue[0];
    if (!head) return undefined;
    const { tag, rows } = decodeCommandComplete(body);
    this.recordResult(head, { tag, rows: rows ?? head.rows });
    if (head.mode === 'extended') this.queue.shift();
    return { tag, text: head.text, index: head.results - 1 };
  }

  /** EmptyQueryResponse or PortalSuspended end an extended execution. */
  endWithout(reason: 'empty' | 'suspended'): void {
    const head = this.queue[0];
    if (!head) return;
    this.recordResult(head, { tag: reason === 'empty' ? '' : 'SUSPENDED', rows: head.rows });
    if (head.mode === 'extended') this.queue.shift();
  }

  error(fields: Record<string, string>): void {
    const head = this.queue[0];
    const message = this.mask.maskText(fields.M ?? '', this.counts);
    const data: Record<string, unknown> = { code: fields.C ?? null, severity: fields.S ?? null, message };
    if (fields.D) data.detail = this.mask.maskText(fields.D, this.counts);
    if (head) {
      data.query = head.querySeq;
      data.durationMs = round(performance.now() - head.startedAt);
      if (head.mode === 'extended') this.queue.shift();
    }
    this.rec.record('db.error', data, { searchText: message, outcome: 'error' });
  }

  /** A Query or Sync went to the target (after the statement it ends, for a Query). */
  batchSent(): void {
    this.batchesSent++;
  }

  /**
   * ReadyForQuery ends the oldest batch sent: what of it is still pending was skipped by the target after an
   * error. Statements of later batches (pipelined) stay queued for their own results.
   */
  batchEnd(): void {
    const ended = this.batchesAnswered++;
    while (this.queue.length && this.queue[0].batch <= ended) {
      const e = this.queue.shift()!;
      if (e.mode === 'extended' && e.results === 0) this.rec.record('db.result', { query: e.querySeq, skipped: true });
    }
  }

  private recordResult(e: Execution, r: { tag: string; rows: number }): void {
    e.results++;
    // Keys in sorted order (see begin()).
    const data: Record<string, unknown> = {};
    if (e.columns) data.columns = e.columns.map((c) => this.mask.maskText(c.name, this.counts)); // a query can name a column after a value
    if (e.copyBytes) data.copyBytes = e.copyBytes;
    if (e.digest) data.digest = `${this.digestKey!.id}:${e.digest.digest('hex')}`;
    data.durationMs = round(performance.now() - e.startedAt);
    data.query = e.querySeq;
    data.rows = r.rows;
    if (e.sample.length) data.sample = e.sample;
    data.tag = r.tag;
    if (e.truncated) data.truncated = true;
    if (e.undescribed) data.undescribed = true;
    this.rec.record('db.result', data);
    e.rows = 0;
    e.sample = [];
    e.sampleBytes = 0;
    e.truncated = e.undescribed = false;
    e.copyBytes = 0;
    e.digest = undefined;
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
