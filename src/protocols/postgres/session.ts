import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Identity } from '../../core/identity.ts';
import type { Logger } from '../../core/logger.ts';
import { ProtocolError } from '../../core/errors.ts';
import type { ValueMasker } from '../../policy/connection-policies.ts';
import type { ConnectionPolicy, Decision } from '../../policy/types.ts';
import type { SessionRecorder } from '../../recording/recorder.ts';
import { heldLine, type ReviewGate } from '../../reviews/types.ts';
import type { RecordingLimits } from '../../config/schema.ts';
import { BackendCode, FrontendCode } from './codec/codes.ts';
import { decodeErrorFields, decodeNotification, decodeParameterStatus, decodeRowDescription, encodeErrorResponse, encodeNoticeResponse } from './codec/backend.ts';
import { decodeBind, decodeClose, decodeDescribe, decodeExecute, decodeParseBytes, decodeQueryBytes, encodeExecute, encodeSync } from './codec/frontend.ts';
import { ClientEncoding, preview } from './client-encoding.ts';
import { FRAME_HEADER, FrameReader, type Frame } from './codec/frame-reader.ts';
import { statementError } from './errors.ts';
import { formatOf, StatementLog, valueText } from './statement-log.ts';
import { JoinedWrites } from './joined-writes.ts';
import { LiveMask, LiveMaskRefusal } from './live-mask.ts';
import { AckGate } from './ack-gate.ts';
import { PreparedStatements } from './prepared-statements.ts';
import { nameChange } from './sql-prepare.ts';

export interface PgSessionOptions {
  readonly client: Socket;
  readonly target: Socket;
  readonly identity: Identity;
  readonly connection: string;
  readonly rec: SessionRecorder;
  readonly policy: ConnectionPolicy;
  readonly storedMask: ValueMasker;
  readonly liveMask: ValueMasker | undefined;
  readonly reviews: ReviewGate | undefined;
  readonly limits: RecordingLimits;
  readonly maxFrameBytes: number;
  /** policy.maxStatementBytes: longer Query and Parse texts are refused. */
  readonly maxStatementBytes: number;
  /** The target's ParameterStatus frames at startup (client_encoding, server_encoding among them). */
  readonly targetParameters: readonly Frame[];
  readonly log: Logger;
  readonly clientRemainder: Buffer;
  readonly targetRemainder: Buffer;
  readonly onEnd: (session: PgSession) => void;
  /** The connection allows a superuser target; otherwise a session whose role becomes one (SET ROLE) ends. */
  readonly allowSuperuser: boolean;
}

/** One entry per Query/Sync sent to the target, resolved by its ReadyForQuery. */
interface SyncEntry {
  /** The portal of a denial's failing Execute sent in this batch (see `failAtTarget`). */
  denial?: string;
  /** A refusal because the store cannot write: its ReadyForQuery does not wait for the store (see `AckGate`). */
  storeDown?: boolean;
}

/** SQLSTATE the target answers an Execute of a portal that does not exist with (invalid_cursor_name). */
const UNDEFINED_PORTAL = '34000';
/** SQLSTATE io_error: statements refused while the recording store fails. */
const STORE_DOWN = '58030';

/**
 * An authenticated PostgreSQL session: relays both directions frame by frame, records statements and
 * results, applies policy before a statement reaches the target, and keeps the client's view of the
 * protocol (ordering, transaction status) correct when the gateway itself answers.
 */
export class PgSession {
  readonly rec: SessionRecorder;
  private readonly client: Socket;
  private readonly target: Socket;
  private readonly clientReader: FrameReader;
  private readonly targetReader: FrameReader;
  private readonly statements: StatementLog;
  /** Every write to the client goes through it: acknowledgements wait until they are recorded. */
  private readonly toClientGate: AckGate;
  private readonly prepared = new PreparedStatements();
  private readonly portals = new Map<string, { text: string; statement: string; params: (string | null)[]; formats: number[] }>();
  private readonly syncs: SyncEntry[] = [];
  private readonly maskCounts: Record<string, number> = {};
  /** Denials whose failing Execute is on its way to the target: portal name → the error the client gets instead. */
  private readonly denials = new Map<string, Buffer>();
  /** After a denied Parse: the client's messages up to its Sync are dropped, as the target drops them after an error. */
  private skipUntilSync: string | undefined;
  private holding = false;
  /** How the server reads statement text now (its client_encoding, as its ParameterStatus reports). */
  private readonly encoding = new ClientEncoding();
  /**
   * A Query or Parse with non-ASCII text that arrived while earlier statements were still running: one of them may
   * change client_encoding (SET, set_config, a function, a rollback), and the server reports that only before its
   * ReadyForQuery. Also a Bind of a name whose text depends on a Parse or Close the server has not answered yet
   * (PreparedStatements.textFor). The frame waits here, the client's stream behind it, until everything before it
   * is answered.
   */
  private parked: Frame | undefined;
  /** An Execute went to the target since the last Sync: client_encoding is unknown until that Sync is answered. */
  private executedSinceSync = false;
  /** The recording's backlog is full: the client's stream waits (see checkRoom). */
  private waitingRoom = false;
  private ended = false;
  /** Between CopyInResponse and the client's CopyDone / CopyFail, and between CopyOutResponse and CopyDone. */
  private copyingIn = false;
  private copyingOut = false;
  private lastDescribe: { kind: 'S' | 'P'; name: string } | undefined;
  /** Set when this identity sees masked data: then every message it is sent goes through it. */
  private readonly live: LiveMask | undefined;
  private endReason = 'client_disconnected';
  private readonly reviewAbort = new AbortController();
  private resolveClosed!: () => void;
  /** Resolves once the session has ended and its recording is sealed (or failed to seal). */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(private readonly o: PgSessionOptions) {
    this.rec = o.rec;
    this.client = o.client;
    this.target = o.target;
    this.clientReader = new FrameReader(o.maxFrameBytes);
    this.targetReader = new FrameReader(o.maxFrameBytes);
    this.statements = new StatementLog(o.rec, o.storedMask, o.limits, this.maskCounts, o.rec.resultDigestKey());
    this.statements.preparedText = (name) => this.prepared.known(name);
    this.toClientGate = new AckGate(o.client, o.target, o.rec, o.limits.ack !== 'async', (n) => (this.rec.bytesOut += n));
    this.live = o.liveMask?.active ? new LiveMask(o.liveMask, this.maskCounts, () => (this.encoding.name === 'UTF8' ? 'utf8' : 'latin1')) : undefined;
    for (const f of o.targetParameters) {
      const p = decodeParameterStatus(f.body);
      this.encoding.parameter(p.name, p.value);
    }
  }

  /** The client's stream waits: for a reviewer, for room in the recording, or for the server's client_encoding. */
  private get paused(): boolean {
    return this.holding || this.waitingRoom || this.parked !== undefined;
  }

  start(): void {
    const { client, target } = this;
    client.on('data', (c: Buffer) => this.onClientData(c));
    target.on('data', (c: Buffer) => this.onTargetData(c));
    client.on('close', () => this.finish(this.endReason));
    client.on('error', (err) => {
      this.o.log.debug({ err: err.message, session: this.rec.id }, 'client socket error');
      this.finish('client_error');
    });
    target.on('close', () => this.onTargetGone('target_disconnected'));
    target.on('error', (err) => this.onTargetGone(`target_error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    if (this.o.targetRemainder.length) this.onTargetData(this.o.targetRemainder);
    if (this.o.clientRemainder.length) this.onClientData(this.o.clientRemainder);
    client.resume();
    target.resume();
  }

  /**
   * Ends the session like terminate() as soon as no statement is in flight (now, or when the target's ReadyForQuery
   * for the last one has gone to the client): a draining gateway lets running statements finish and be recorded.
   */
  endWhenIdle(message: string, reason: string): void {
    this.idleEnd = { message, reason };
    this.endIfIdle();
  }

  private idleEnd: { readonly message: string; readonly reason: string } | undefined;

  private endIfIdle(): void {
    if (!this.idleEnd || this.ended) return;
    const busy = this.syncs.length > 0 || this.executedSinceSync || this.paused || this.copyingIn || this.copyingOut || this.clientReader.buffered > 0;
    if (!busy) this.terminate(this.idleEnd.message, this.idleEnd.reason);
  }

  /** Ends the session from the gateway side (shutdown), telling the client why. */
  terminate(message: string, reason: string, code = '57P01'): void {
    if (this.ended) return;
    this.endReason = reason;
    this.toClientGate.end(encodeErrorResponse({ severity: 'FATAL', code, message }));
    this.target.destroy();
    this.finish(reason);
  }

  // ---- client → target -------------------------------------------------------------------------

  private onClientData(chunk: Buffer): void {
    this.rec.bytesIn += chunk.length;
    this.clientReader.push(chunk);
    this.drainClient();
  }

  private drainClient(): void {
    if (this.ended) return;
    try {
      while (!this.paused) {
        if (this.copyingIn && !this.skipUntilSync) this.relayCopyData(this.clientReader, this.toTargetWrites);
        const frame = this.clientReader.next();
        if (!frame) break;
        this.onClientFrame(frame);
        this.checkRoom();
      }
      this.flushRun();
    } catch (err) {
      this.protocolFailure(err, 'client');
    }
    if (this.paused) this.client.pause();
    else this.endIfIdle();
  }

  /**
   * Past the recording's backlog limit (a store that cannot keep up, a full disk) the client's later messages wait
   * in the reader and socket, as during a review, until there is room. A store that fails has had statements
   * refused before that (see `decide`); holding the client bounds even the records of those refusals.
   */
  private checkRoom(): void {
    const room = this.rec.room();
    if (!room) return;
    this.waitingRoom = true;
    void room.then(() => {
      this.waitingRoom = false;
      if (this.ended || this.paused) return;
      this.client.resume();
      this.drainClient();
    });
  }

  /** Client frames on their way to the target: unchanged ones that lie next to each other go out as one write. */
  private readonly toTargetWrites = new JoinedWrites((bytes) => this.writeTarget(bytes));

  private toTarget(bytes: Buffer): void {
    this.toTargetWrites.add(bytes);
  }

  private flushRun(): void {
    this.toTargetWrites.flush();
  }

  private writeTarget(bytes: Buffer): void {
    if (!this.target.write(bytes) && !this.client.isPaused()) {
      this.client.pause();
      this.target.once('drain', () => {
        if (!this.paused) this.client.resume();
      });
    }
  }

  private onClientFrame(f: Frame): void {
    if (this.skipUntilSync) {
      if (f.code === FrontendCode.Sync) {
        this.executedSinceSync = false;
        this.syncs.push({ denial: this.skipUntilSync });
        this.skipUntilSync = undefined;
        this.batchSent();
        this.live?.syncSent();
        this.toTarget(f.bytes);
      }
      return;
    }
    if (this.live && f.code !== FrontendCode.Describe && f.code !== FrontendCode.Execute && f.code !== FrontendCode.Flush) this.live.other();
    switch (f.code) {
      case FrontendCode.Query:
        return this.onQuery(f);
      case FrontendCode.Parse:
        return this.onParse(f);
      case FrontendCode.Bind: {
        const b = decodeBind(f.body);
        const text = this.prepared.textFor(b.statement);
        if (text === undefined) {
          // Which text the name stands for depends on a Parse or Close the server has not answered yet.
          this.parked = f;
          return;
        }
        const refusal = this.live?.bind(b);
        if (refusal) return this.denyExtended(statementError('0A000', `Airlock: ${refusal}`), { text, rule: 'live-mask', reason: refusal });
        const params = b.params.map((p, i) => valueText(p, formatOf(b.paramFormats, i)));
        this.portals.set(b.portal, { text, statement: b.statement, params, formats: b.resultFormats });
        return this.toTarget(f.bytes);
      }
      case FrontendCode.Execute: {
        const e = decodeExecute(f.body);
        this.executedSinceSync = true;
        const portal = this.portals.get(e.portal);
        this.statements.begin(portal?.text ?? '', portal?.params, 'extended', portal?.statement ?? '', portal?.formats);
        const describe = this.live?.execute(e.portal);
        if (describe) this.toTarget(describe);
        return this.toTarget(f.bytes);
      }
      case FrontendCode.Describe:
        this.lastDescribe = decodeDescribe(f.body);
        this.live?.describe(this.lastDescribe.kind, this.lastDescribe.name);
        return this.toTarget(f.bytes);
      case FrontendCode.Close: {
        const c = decodeClose(f.body);
        this.prepared.closeSent(c.kind, c.name);
        if (c.kind === 'P') this.portals.delete(c.name);
        return this.toTarget(f.bytes);
      }
      case FrontendCode.Sync:
        this.executedSinceSync = false;
        this.syncs.push({});
        this.batchSent();
        this.live?.syncSent();
        return this.toTarget(f.bytes);
      case FrontendCode.Terminate:
        this.endReason = 'client_terminated';
        this.toTarget(f.bytes);
        this.flushRun();
        this.target.end();
        return;
      case FrontendCode.CopyData:
        this.statements.copyData(f.bytes.length - FRAME_HEADER);
        return this.toTarget(f.bytes);
      case FrontendCode.CopyDone:
      case FrontendCode.CopyFail:
        this.copyingIn = false;
        return this.toTarget(f.bytes);
      case FrontendCode.FunctionCall:
        // Fast-path calls name a function by OID and bypass statement policy (lo_import, …): refused.
        return this.denySimple('<fast-path function call>', { rule: 'fastpath', reason: 'fast-path function calls are not allowed through the gateway' });
      case FrontendCode.Password:
        throw new ProtocolError('unexpected password message after authentication');
      default:
        return this.toTarget(f.bytes);
    }
  }

  private onQuery(f: Frame): void {
    const read = this.statementText(f, decodeQueryBytes(f.body));
    if (!read) return;
    if ('code' in read) return this.denySimple(read.text, read);
    const decision = this.decide(read.text);
    if (decision instanceof Promise) return this.afterClassifying(decision, (d) => this.queryDecided(f, read.text, d));
    this.queryDecided(f, read.text, decision);
  }

  private queryDecided(f: Frame, text: string, decision: Decision & { code?: string }): void {
    if (decision.action === 'allow') return this.forwardQuery(text, f.bytes);
    if (decision.action === 'deny') return this.denySimple(text, decision);
    this.hold(text, decision, (approved, why) => {
      if (approved) this.forwardQuery(text, f.bytes);
      else this.denySimple(text, { rule: decision.rule, reason: why });
    });
  }

  private forwardQuery(text: string, bytes: Buffer): void {
    this.statements.begin(text, undefined, 'simple');
    this.batchSent();
    this.syncs.push({});
    this.live?.syncSent();
    this.toTarget(bytes);
  }

  /** A denied Query: the target fails in its place (see `failAtTarget`) and ends that failure with a ReadyForQuery. */
  private denySimple(text: string, d: { rule: string; reason: string; code?: string }): void {
    this.recordDenial(text, d.rule, d.reason);
    const portal = this.failAtTarget(this.denialError(d));
    this.toTarget(encodeSync());
    this.batchSent();
    this.syncs.push(d.code === STORE_DOWN ? { denial: portal, storeDown: true } : { denial: portal });
    this.live?.syncSent();
  }

  /**
   * Sends the target, in place of a denied statement, an Execute of a portal that cannot exist, so the target
   * itself fails at exactly that point of the client's stream and does what it does with any failed statement:
   * a transaction block becomes aborted (a later COMMIT rolls back, ROLLBACK TO SAVEPOINT recovers, statements
   * prepared before fail with 25P02), and an implicit transaction (a pipelined extended batch, or earlier
   * statements of the same batch) is rolled back at its Sync. The gateway never guesses the transaction status
   * from a ReadyForQuery that is behind a pipelined stream. The target's error is replaced by the denial's.
   */
  private failAtTarget(error: Buffer): string {
    const portal = `airlock-denied-${randomBytes(16).toString('hex')}`;
    this.denials.set(portal, error);
    this.toTarget(encodeExecute(portal, 1));
    return portal;
  }

  private onParse(f: Frame): void {
    const raw = decodeParseBytes(f.body);
    const read = this.statementText(f, raw.text);
    if (!read) return;
    if ('code' in read) return this.denyExtended(this.denialError(read), read);
    const p = { name: raw.name, text: read.text };
    const decision = this.decide(p.text);
    if (decision instanceof Promise) return this.afterClassifying(decision, (d) => this.parseDecided(f, p, d));
    this.parseDecided(f, p, decision);
  }

  private parseDecided(f: Frame, p: { name: string; text: string }, decision: Decision & { code?: string }): void {
    if (decision.action === 'allow') return this.forwardParse(p, f.bytes);
    if (decision.action === 'deny') return this.denyExtended(this.denialError(decision), { text: p.text, ...decision });
    this.hold(p.text, decision, (approved, why) => {
      if (approved) this.forwardParse(p, f.bytes);
      else this.denyExtended(this.denialError({ rule: decision.rule, reason: why }), { text: p.text, rule: decision.rule, reason: why });
    });
  }

  private forwardParse(p: { name: string; text: string }, bytes: Buffer): void {
    this.prepared.parseSent(p.name, p.text);
    this.statements.forgetStatement(p.name);
    this.toTarget(bytes);
  }

  /** A denied extended-protocol message: the target fails in its place and the client's messages up to Sync are dropped, as the server would. */
  private denyExtended(error: Buffer, d: { text: string; rule: string; reason: string }): void {
    this.recordDenial(d.text, d.rule, d.reason);
    this.skipUntilSync = this.failAtTarget(error);
  }

  private denialError(d: { rule: string; reason: string; code?: string }): Buffer {
    return statementError(d.code ?? '42501', `Airlock: ${d.reason}`, `rule: ${d.rule}`);
  }

  private recordDenial(text: string, rule: string, reason: string): void {
    const masked = this.o.storedMask.maskText(text, this.maskCounts);
    this.rec.record('policy.deny', { text: masked, rule, reason }, { searchText: masked, outcome: 'denied' });
  }

  /**
   * The text the server will parse from a Query or Parse, read in its client_encoding; or why it is refused unread;
   * or undefined when the frame is parked until the server's client_encoding is known (see `parked`).
   */
  private statementText(f: Frame, bytes: Buffer): { text: string } | { text: string; rule: string; reason: string; code: string } | undefined {
    if (bytes.length > this.o.maxStatementBytes) {
      return {
        text: `${preview(bytes)}… (${bytes.length} bytes)`, rule: 'maxStatementBytes', code: '54000',
        reason: `the statement is ${bytes.length} bytes, over this connection's limit of ${this.o.maxStatementBytes} (policy.maxStatementBytes)`,
      };
    }
    if (!ClientEncoding.sameInEveryEncoding(bytes)) {
      if (this.executedSinceSync) {
        return {
          text: preview(bytes), rule: 'client_encoding', code: '0A000',
          reason: 'a statement with non-ASCII text after an Execute in the same pipeline cannot be read: that Execute may change client_encoding; send a Sync first',
        };
      }
      if (this.syncs.length > 0) {
        this.parked = f;
        return undefined;
      }
    }
    const read = this.encoding.read(bytes);
    if ('error' in read) return { text: preview(bytes), rule: 'client_encoding', code: read.code, reason: read.error };
    return read;
  }

  /** A Query or Sync goes to the target: the recording's and the statement map's batch count. */
  private batchSent(): void {
    this.statements.batchSent();
    this.prepared.batchSent();
  }

  /** Takes up a parked statement once the server has answered everything before it. */
  private unpark(): void {
    const f = this.parked;
    if (!f || this.syncs.length > 0 || this.ended) return;
    this.parked = undefined;
    try {
      this.onClientFrame(f);
      this.flushRun();
    } catch (err) {
      this.protocolFailure(err, 'client');
      return;
    }
    if (!this.paused) this.client.resume();
    this.drainClient();
  }

  /** The decision on `text`; a promise of it for a text the policy classifies out of process (see parser-pool.ts). */
  private decide(text: string): (Decision & { code?: string }) | Promise<Decision> {
    if (!this.rec.healthy) {
      return { action: 'deny', rule: 'recording', reason: 'the recording store is unavailable, so statements are refused until it recovers', code: STORE_DOWN };
    }
    const command = { protocol: 'postgres', kind: 'query', text } as const;
    return this.o.policy.decideLater?.(command, this.o.identity) ?? this.o.policy.decide(command, this.o.identity);
  }

  /** Holds the client's stream (later statements keep their order) until a classification out of process is done; other sessions go on. */
  private afterClassifying(later: Promise<Decision>, then: (d: Decision) => void): void {
    this.holding = true;
    this.client.pause();
    void later.then((d) => {
      if (this.ended) return;
      this.holding = false;
      try {
        then(d);
        this.flushRun();
      } catch (err) {
        return this.protocolFailure(err, 'client');
      }
      if (!this.paused) this.client.resume();
      this.drainClient();
    });
  }

  /** Holds the client's stream (later messages wait in the reader) until a reviewer decides. */
  private hold(text: string, d: Extract<Decision, { action: 'review' }>, then: (approved: boolean, reason: string) => void): void {
    const masked = this.o.storedMask.maskText(text, this.maskCounts);
    this.rec.record('review.requested', { text: masked, rule: d.rule, approvers: d.approvers }, { searchText: masked, outcome: 'reviewed' });
    if (!this.o.reviews) return then(false, `statement needs review under rule ${d.rule}, but reviews are not enabled on this gateway`);
    this.holding = true;
    this.client.pause();
    this.o.reviews
      .request(
        { sessionId: this.rec.id, connection: this.o.connection, requester: this.o.identity, command: { protocol: 'postgres', kind: 'query', text: masked }, exact: text, rule: d.rule, approvers: d.approvers, reason: d.reason },
        this.reviewAbort.signal,
        (h) => {
          if (!this.ended) this.toClient(encodeNoticeResponse({ severity: 'NOTICE', code: '00000', message: `Airlock: ${heldLine(h)}` }));
        },
      )
      .then(
        (r) => {
          this.rec.record('review.decided', { reviewId: r.reviewId, approved: r.approved, reviewer: r.reviewer ?? null, reason: r.reason ?? null, rule: d.rule });
          return [r.approved, r.approved ? '' : `statement denied by reviewer${r.reviewer ? ` ${r.reviewer}` : ''}: ${r.reason ?? 'no reason given'}`] as const;
        },
        (err: Error) => [false, `review failed: ${err.message}`] as const,
      )
      .then(([approved, why]) => {
        if (this.ended) return;
        this.holding = false;
        then(approved, why);
        this.flushRun();
        if (!this.waitingRoom) this.client.resume();
        this.drainClient();
      });
  }

  // ---- target → client -------------------------------------------------------------------------

  private onTargetData(chunk: Buffer): void {
    this.targetReader.push(chunk);
    try {
      for (;;) {
        // Past a statement's sample, DataRows that go out unchanged are only counted: skipped in bulk, no frames made.
        if (this.statements.countingRows && !this.live) {
          const rows = this.relayRun(this.targetReader, BackendCode.DataRow, this.toClientWrites);
          if (rows) this.statements.skippedRows(rows.count, rows.bytes);
        }
        if (this.copyingOut && !this.live) this.relayCopyData(this.targetReader, this.toClientWrites);
        const f = this.targetReader.next();
        if (!f || this.ended) break;
        let out = this.onTargetFrame(f);
        if (out && this.live) out = this.live.frame(f, out);
        if (out) this.toClientWrites.add(out);
      }
      this.toClientWrites.flush();
      this.endIfIdle();
    } catch (err) {
      this.toClientWrites.flush();
      this.protocolFailure(err, 'target');
    }
  }

  /** Relays the run of `code` frames that comes next as one slice of its chunk, with no frame objects; returns it to count (and hash). */
  private relayRun(reader: FrameReader, code: number, writes: JoinedWrites): { count: number; bytes: Buffer } | undefined {
    const run = reader.skip(code);
    if (!run) return undefined;
    const bytes = run.chunk.subarray(run.start, run.end);
    writes.add(bytes);
    return { count: run.count, bytes };
  }

  /** A run of CopyData frames, only counted, as DataRows past a sample. */
  private relayCopyData(reader: FrameReader, writes: JoinedWrites): void {
    const run = this.relayRun(reader, BackendCode.CopyData, writes);
    if (run) this.statements.copyData(run.bytes.length - run.count * FRAME_HEADER);
  }

  /** Target frames on their way to the client, joined as the client's are (see `toTargetWrites`). */
  private readonly toClientWrites = new JoinedWrites((bytes) => this.toClient(bytes));

  private toClient(bytes: Buffer): void {
    this.toClientGate.write(bytes);
  }

  /** Observes one target frame; returns the bytes to send the client (the frame itself unless rewritten). */
  private onTargetFrame(f: Frame): Buffer | undefined {
    switch (f.code) {
      case BackendCode.DataRow:
        this.statements.row(f);
        return f.bytes;
      case BackendCode.RowDescription: {
        const fields = decodeRowDescription(f.body);
        const d = this.lastDescribe;
        this.statements.columns(fields, d?.kind === 'S' ? d.name : undefined);
        return f.bytes;
      }
      case BackendCode.CommandComplete: {
        const done = this.statements.complete(f.body);
        if (done && (done.tag === 'PREPARE' || done.tag.startsWith('DEALLOCATE'))) {
          const change = nameChange(done.text, done.index);
          if (change) this.prepared.sqlChanged(change);
        }
        this.toClientGate.acknowledge();
        return f.bytes;
      }
      case BackendCode.CopyData:
        this.statements.copyData(f.bytes.length - FRAME_HEADER);
        return f.bytes;
      case BackendCode.CopyInResponse:
        this.copyingIn = true;
        return f.bytes;
      case BackendCode.CopyOutResponse:
        this.copyingOut = true;
        return f.bytes;
      case BackendCode.CopyDone:
        this.copyingOut = false;
        return f.bytes;
      case BackendCode.EmptyQueryResponse:
        this.statements.endWithout('empty');
        this.toClientGate.acknowledge();
        return f.bytes;
      case BackendCode.PortalSuspended:
        this.statements.endWithout('suspended');
        this.toClientGate.acknowledge();
        return f.bytes;
      case BackendCode.ErrorResponse: {
        this.copyingIn = this.copyingOut = false;
        const fields = decodeErrorFields(f.body);
        const denial = this.denialFailed(fields);
        if (denial) return denial; // acknowledged by its ReadyForQuery
        this.statements.error(fields);
        this.toClientGate.acknowledge();
        return f.bytes;
      }
      case BackendCode.NoticeResponse: {
        const n = decodeErrorFields(f.body);
        this.rec.record('db.notice', { severity: n.S ?? null, code: n.C ?? null, message: this.o.storedMask.maskText(n.M ?? '', this.maskCounts) });
        return f.bytes;
      }
      case BackendCode.NotificationResponse: {
        const n = decodeNotification(f.body);
        this.rec.record('db.notification', { channel: this.o.storedMask.maskText(n.channel, this.maskCounts), payload: this.o.storedMask.maskText(n.payload, this.maskCounts) });
        return f.bytes;
      }
      case BackendCode.ParameterStatus: {
        const p = decodeParameterStatus(f.body);
        this.encoding.parameter(p.name, p.value);
        if (p.name === 'is_superuser' && p.value !== 'off' && !this.o.allowSuperuser) {
          this.terminate('Airlock: the session became a superuser (SET ROLE or SET SESSION AUTHORIZATION), which this connection does not allow', 'superuser_target', '42501');
          return undefined;
        }
        return f.bytes;
      }
      case BackendCode.ParseComplete:
        this.prepared.parseComplete();
        return f.bytes;
      case BackendCode.CloseComplete:
        this.prepared.closeComplete();
        return f.bytes;
      case BackendCode.ReadyForQuery:
        return this.onReady(f);
      default:
        return f.bytes;
    }
  }

  private onReady(f: Frame): Buffer {
    this.statements.batchEnd();
    this.prepared.batchEnded();
    const entry = this.syncs.shift();
    // A refusal because the store cannot write is not held for the store (it would wait until the store recovers).
    if (!entry?.storeDown) this.toClientGate.acknowledge();
    // The target skipped the denial's Execute after an earlier error of the same batch: the client sees that error, as it would without the gateway.
    if (entry?.denial) this.denials.delete(entry.denial);
    if (this.parked && this.syncs.length === 0) setImmediate(() => this.unpark());
    return f.bytes;
  }

  /** The error the client gets instead of the target's answer to a denial's Execute (see `failAtTarget`), if that is what `fields` is. */
  private denialFailed(fields: Record<string, string>): Buffer | undefined {
    if (fields.C !== UNDEFINED_PORTAL || this.denials.size === 0) return undefined;
    for (const [portal, error] of this.denials) {
      if (!(fields.M ?? '').includes(portal)) continue;
      this.denials.delete(portal);
      return error;
    }
    return undefined;
  }

  // ---- endings ---------------------------------------------------------------------------------

  private protocolFailure(err: unknown, side: 'client' | 'target'): void {
    const message = err instanceof Error ? err.message : String(err);
    this.o.log.warn({ session: this.rec.id, side, err: message }, 'protocol error; ending session');
    this.endReason = `protocol_error: ${side}: ${message}`;
    const refused = err instanceof LiveMaskRefusal;
    const text = side === 'client' || refused ? `Airlock: ${message}` : 'Airlock: malformed message from the target';
    this.toClientGate.end(encodeErrorResponse({ severity: 'FATAL', code: refused ? '0A000' : '08P01', message: text }));
    this.target.destroy();
    this.finish(this.endReason);
  }

  private onTargetGone(reason: string): void {
    if (this.ended) return;
    if (this.endReason === 'client_terminated') return this.finish(this.endReason);
    this.endReason = reason;
    this.toClientGate.end(encodeErrorResponse({ severity: 'FATAL', code: '08006', message: 'Airlock: the target closed the connection' }));
    this.finish(reason);
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.reviewAbort.abort();
    if (!this.client.destroyed) this.toClientGate.end();
    if (!this.target.destroyed) this.target.destroy();
    const masked = Object.keys(this.maskCounts).length ? { masked: this.maskCounts } : undefined;
    this.rec.end(reason, masked).then(
      () => {
        this.o.onEnd(this);
        this.resolveClosed();
      },
      (err: Error) => {
        // What is still held was not recorded: it never reaches the client.
        this.toClientGate.drop();
        this.client.destroy();
        this.o.log.error({ session: this.rec.id, err: err.message }, 'could not seal session; it will be sealed as interrupted at next start');
        this.o.onEnd(this);
        this.resolveClosed();
      },
    );
  }
}
