import { randomBytes } from 'node:crypto';
import type { Config, PostgresConnectionConfig } from '../config/schema.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { Identity } from '../core/identity.ts';
import type { CompiledConnectionPolicy, ValueMasker } from '../policy/connection-policies.ts';
import { BackendCode } from '../protocols/postgres/codec/codes.ts';
import { decodeErrorFields, decodeRowDescription } from '../protocols/postgres/codec/backend.ts';
import type { Frame } from '../protocols/postgres/codec/frame-reader.ts';
import { StatementLog } from '../protocols/postgres/statement-log.ts';
import type { SessionRecord, Store } from '../store/types.ts';
import { PgRunner, type FrameObserver, type RunOutcome } from './pg-runner.ts';
import type { Recorder, SessionRecorder } from './recorder.ts';

/**
 * Re-execution of a recorded PostgreSQL session against another connection (a sandbox): every
 * statement that reached the target (db.query), in order, with its recorded parameters, compared
 * with what the recording says happened. The run is itself a recorded, sealed session.
 */

/** The first rows of a result as recorded (`db.result.sample`, masked as stored). */
export type Sample = readonly (readonly (string | null)[])[];

export interface RecordedOutcome {
  results: { tag: string; rows: number; columns?: string[]; sample?: Sample; digest?: string }[];
  error?: { code: string | null; message: string };
  /** The target skipped it after an earlier error in the same batch: it never ran. */
  skipped: boolean;
}

export type VerdictKind = 'same' | 'rows_differ' | 'result_differs' | 'error_now' | 'error_differs' | 'fixed' | 'unverified' | 'denied_now';

export interface Verdict {
  readonly kind: VerdictKind;
  readonly text: string;
}

/** What the run recorded of each result of a statement: its sample and the digest of all its rows. */
export interface NowResult {
  readonly sample?: Sample;
  readonly digest?: string;
}

/**
 * Compares what the recording says with what happened now: errors, tags, row counts, columns, the digest of every
 * row of each result (`db.result.digest`, keyed with the source session's key, so the run's digests compare), and
 * the values of the rows both recordings sampled (the first `recording.maxRows` rows, masked the same way), so
 * `count(*)` 10 against 7 differs and so does a change past the sample. Recordings without digests (older ones)
 * compare rows past the sample by count only.
 */
export function compareOutcome(recorded: RecordedOutcome | undefined, now: RunOutcome, nowResults: readonly (NowResult | undefined)[] = []): Verdict {
  const nowText = now.error ? `error ${now.error.code ?? ''}: ${now.error.message}`.replace('  ', ' ') : describeResults(now.results);
  if (!recorded || (!recorded.error && recorded.results.length === 0)) return { kind: 'unverified', text: `no recorded outcome to compare; now ${nowText}` };
  if (recorded.error && now.error) {
    if (recorded.error.code === now.error.code) return { kind: 'same', text: `same (error ${now.error.code ?? 'without code'})` };
    return { kind: 'error_differs', text: `error differs (recorded ${recorded.error.code}, now ${now.error.code}: ${now.error.message})` };
  }
  if (recorded.error) return { kind: 'fixed', text: `was error, now ok (recorded ${recorded.error.code}: ${recorded.error.message})` };
  if (now.error) return { kind: 'error_now', text: `error now: ${now.error.code ?? ''} ${now.error.message}`.replace(':  ', ': ') };
  const rec = recorded.results;
  const cur = now.results;
  if (rec.length !== cur.length) return { kind: 'result_differs', text: `results differ (recorded ${rec.length} statement results, now ${cur.length})` };
  for (let i = 0; i < rec.length; i++) {
    const where = rec.length > 1 ? ` in statement ${i + 1} of ${rec.length}` : '';
    if (tagVerb(rec[i].tag) !== tagVerb(cur[i].tag)) return { kind: 'result_differs', text: `result differs${where} (recorded "${rec[i].tag}", now "${cur[i].tag}")` };
    if (rec[i].rows !== cur[i].rows) return { kind: 'rows_differ', text: `rows differ${where} (recorded ${rec[i].rows}, now ${cur[i].rows})` };
    const rc = rec[i].columns;
    const cc = cur[i].columns;
    if (rc && cc && rc.join('\0') !== cc.join('\0')) return { kind: 'result_differs', text: `columns differ${where} (recorded ${rc.join(', ')}; now ${cc.join(', ')})` };
    const digests = digestVerdict(rec[i].digest, nowResults[i]?.digest);
    if (digests === 'same') continue;
    const rows = differentRows(rec[i].sample, nowResults[i]?.sample);
    if (rows.length) {
      const shown = rows.slice(0, 3).map((d) => `row ${d.row}: recorded (${d.recorded}), now (${d.now})`).join('; ');
      return { kind: 'rows_differ', text: `row values differ${where} in ${rows.length} of the sampled rows: ${shown}${rows.length > 3 ? '; …' : ''}` };
    }
    if (digests === 'differ') {
      const sampled = rec[i].sample?.length ?? 0;
      return { kind: 'rows_differ', text: `rows differ${where} (digest of all ${rec[i].rows} rows differs; ${sampled ? `the ${sampled} sampled rows are alike as stored, a later or masked value differs` : 'no rows were sampled'})` };
    }
  }
  return { kind: 'same', text: `same (${describeResults(cur)})` };
}

/** Digests `ID:HEX` compare when both exist under the same secret; otherwise the sample decides (older recordings). */
function digestVerdict(recorded: string | undefined, now: string | undefined): 'same' | 'differ' | 'unknown' {
  if (!recorded || !now) return 'unknown';
  const [rid] = recorded.split(':', 1);
  const [nid] = now.split(':', 1);
  if (rid !== nid) return 'unknown';
  return recorded === now ? 'same' : 'differ';
}

/** A hash-masked value carries a per-session key (`[EMAIL:1f3a9c2b]`): two runs agree when the kinds do. */
function comparable(v: string | null): string {
  return v === null ? '\0null' : v.replace(/\[([A-Z][A-Z0-9_]*):[0-9a-f]{8}\]/g, '[$1]');
}

function rowText(r: readonly (string | null)[]): string {
  return r.map((v) => (v === null ? 'NULL' : v.length > 60 ? `${v.slice(0, 60)}…` : v)).join(', ');
}

/** The rows (1-based) where both samples have a row and the rows differ. */
function differentRows(recorded: Sample | undefined, now: Sample | undefined): { row: number; recorded: string; now: string }[] {
  if (!recorded || !now) return [];
  const out: { row: number; recorded: string; now: string }[] = [];
  for (let j = 0; j < Math.min(recorded.length, now.length); j++) {
    const a = recorded[j];
    const b = now[j];
    if (a.length !== b.length || a.some((v, k) => comparable(v) !== comparable(b[k]))) out.push({ row: j + 1, recorded: rowText(a), now: rowText(b) });
  }
  return out;
}

function describeResults(results: RunOutcome['results']): string {
  if (results.length === 0) return 'ok';
  return results.map((r) => r.tag || 'empty query').join('; ');
}

/** "INSERT 0 3" → "INSERT", "CREATE TABLE" → "CREATE TABLE". */
function tagVerb(tag: string): string {
  return tag.replace(/(?:\s+\d+)+$/, '');
}

/** Mask replacements ([EMAIL], [CREDIT_CARD ****1111], [EMAIL:1f3a9c2b]…) in stored statement text. */
const MASKED = /\[[A-Z][A-Z0-9_]*(?::[0-9a-f]{8}| \*{4}\d{4})?\]/;

export interface ReexecLine {
  /** seq of the db.query (or policy.deny) in the source session. */
  readonly seq: number;
  readonly text: string;
  /** 'skipped' when nothing ran. */
  readonly verdict: Verdict | { readonly kind: 'skipped'; readonly text: string };
  /** Caveats: masked values re-sent as stored, truncated parameters. */
  readonly notes: string[];
}

export interface ReexecSummary {
  readonly sessionId: string;
  readonly statements: number;
  readonly counts: Record<VerdictKind | 'skipped', number>;
  /** True when every statement that ran had the recorded outcome. */
  readonly allSame: boolean;
}

export interface ReexecOptions {
  readonly store: Store;
  readonly recorder: Recorder;
  readonly config: Config;
  readonly source: SessionRecord;
  readonly to: string;
  readonly identity: Identity;
  readonly policy: CompiledConnectionPolicy;
  /** Allows re-running against the session's own connection. */
  readonly force?: boolean;
  readonly onLine?: (line: ReexecLine) => void;
  /** Called once the recording of the run is open. */
  readonly onStart?: (replaySessionId: string, statements: number) => void;
  /** Stops the run (Ctrl-C): the statement under way is abandoned, the recording ends as replay_interrupted. */
  readonly signal?: AbortSignal;
}

/** The connection named `to`, checked: PostgreSQL, not the session's own (unless forced). */
export function sandboxConnection(config: Config, source: SessionRecord, to: string, force: boolean): PostgresConnectionConfig {
  if (source.protocol !== 'postgres') throw new AirlockError(ErrorCodes.usage, `only PostgreSQL sessions can be re-executed (session ${source.id} is ${source.protocol})`);
  const cfg = Object.hasOwn(config.connections, to) ? config.connections[to] : undefined;
  if (!cfg) throw new AirlockError(ErrorCodes.unknownConnection, `no connection "${to}" in the configuration`);
  if (cfg.type !== 'postgres') throw new AirlockError(ErrorCodes.usage, `connection "${to}" is not a PostgreSQL connection`);
  if (!force) {
    if (to === source.connection) {
      throw new AirlockError(
        ErrorCodes.usage,
        `refusing to re-run session ${source.id} against its own connection "${to}": that would repeat its changes on the real data; pick a sandbox connection, or pass --force`,
      );
    }
    const own = Object.hasOwn(config.connections, source.connection) ? config.connections[source.connection] : undefined;
    if (own?.type === 'postgres' && own.host === cfg.host && own.port === cfg.port && own.database === cfg.database) {
      throw new AirlockError(
        ErrorCodes.usage,
        `refusing to re-run session ${source.id} against "${to}": it points at the same database as the session's connection "${source.connection}" (${cfg.host}:${cfg.port}/${cfg.database}); pass --force if you mean it`,
      );
    }
  }
  return cfg;
}

/** Collects what the recording says each statement did (counts and codes only, no rows). */
export async function recordedOutcomes(store: Store, sessionId: string): Promise<{ outcomes: Map<number, RecordedOutcome>; statements: number }> {
  const outcomes = new Map<number, RecordedOutcome>();
  let statements = 0;
  const of = (seq: number) => {
    let o = outcomes.get(seq);
    if (!o) outcomes.set(seq, (o = { results: [], skipped: false }));
    return o;
  };
  for await (const e of store.readEvents(sessionId)) {
    const d = e.data as Record<string, unknown>;
    if (e.type === 'db.query') statements++;
    else if (e.type === 'db.result' && typeof d.query === 'number') {
      if (d.skipped) of(d.query).skipped = true;
      else {
        of(d.query).results.push({
          tag: String(d.tag ?? ''), rows: Number(d.rows ?? 0), ...(Array.isArray(d.columns) ? { columns: d.columns.map(String) } : {}),
          ...(Array.isArray(d.sample) ? { sample: d.sample as Sample } : {}),
          ...(typeof d.digest === 'string' ? { digest: d.digest } : {}),
        });
      }
    } else if (e.type === 'db.error' && typeof d.query === 'number') {
      of(d.query).error ??= { code: d.code == null ? null : String(d.code), message: String(d.message ?? '') };
    }
  }
  return { outcomes, statements };
}

/** Feeds a statement's backend frames to the gateway's StatementLog, so the run is recorded the same way. */
function recordingObserver(log: StatementLog, rec: SessionRecorder, mask: ValueMasker, counts: Record<string, number>): FrameObserver {
  return {
    frame(f: Frame) {
      switch (f.code) {
        case BackendCode.RowDescription:
          return log.columns(decodeRowDescription(f.body));
        case BackendCode.DataRow:
          return log.row(f);
        case BackendCode.CommandComplete:
          return log.complete(f.body);
        case BackendCode.EmptyQueryResponse:
          return log.endWithout('empty');
        case BackendCode.PortalSuspended:
          return log.endWithout('suspended');
        case BackendCode.ErrorResponse:
          return log.error(decodeErrorFields(f.body));
        case BackendCode.CopyData:
          return log.copyData(f.body.length);
        case BackendCode.NoticeResponse: {
          const n = decodeErrorFields(f.body);
          rec.record('db.notice', { severity: n.S ?? null, code: n.C ?? null, message: mask.maskText(n.M ?? '', counts) });
          return;
        }
        case BackendCode.ReadyForQuery:
          return log.batchEnd();
        default:
          return;
      }
    },
  };
}

/**
 * Re-runs the statements of `source` against connection `to`, recording the run (protocol postgres,
 * the operator's identity, a replay.source event naming the source) and sealing it. Streams the
 * source twice: once for the recorded outcomes, once for the statements.
 */
export async function reexecute(o: ReexecOptions): Promise<ReexecSummary> {
  const cfg = sandboxConnection(o.config, o.source, o.to, o.force === true);
  const { outcomes, statements } = await recordedOutcomes(o.store, o.source.id);
  const runner = await PgRunner.connect(cfg, { application: 'airlock replay', maxFrameBytes: o.config.limits.maxFrameBytes });
  const rec = await o.recorder.open({ protocol: 'postgres', connection: o.to, identity: o.identity, clientAddress: 'local', application: 'airlock replay' });
  const onAbort = () => runner.abort('re-execution interrupted');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const counts: ReexecSummary['counts'] = { same: 0, rows_differ: 0, result_differs: 0, error_now: 0, error_differs: 0, fixed: 0, unverified: 0, denied_now: 0, skipped: 0 };
  let endReason = 'replay_complete';
  let failure: unknown;
  try {
    o.onStart?.(rec.id, statements);
    rec.record('replay.source', {
      sessionId: o.source.id, connection: o.source.connection, subject: o.source.subject, startedAt: o.source.startedAt,
      lastHash: o.source.lastHash, statements,
    });
    const maskCounts: Record<string, number> = {};
    const mask = o.policy.storedMasker(randomBytes(32));
    const limits = cfg.recording ?? o.config.recording;
    // The samples and digests this run records, per result of the statement running, to compare with the recorded ones.
    let samples: NowResult[] = [];
    const sampling = new Proxy(rec, {
      get(target, prop) {
        if (prop === 'record') {
          return (...args: Parameters<SessionRecorder['record']>) => {
            const [type, data] = args;
            if (type === 'db.result' && !data.skipped) {
              samples.push({
                ...(Array.isArray(data.sample) ? { sample: data.sample as Sample } : {}),
                ...(typeof data.digest === 'string' ? { digest: data.digest } : {}),
              });
            }
            return target.record(...args);
          };
        }
        const v = Reflect.get(target, prop, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    // Digests under the source session's key: the run's then compare with the recorded ones.
    const log = new StatementLog(sampling, mask, limits, maskCounts, o.recorder.resultDigestKey(o.source.id));
    const observer = recordingObserver(log, rec, mask, maskCounts);
    const emit = (line: ReexecLine) => {
      counts[line.verdict.kind]++;
      o.onLine?.(line);
    };
    for await (const e of o.store.readEvents(o.source.id)) {
      if (o.signal?.aborted) throw new AirlockError(ErrorCodes.usage, 're-execution interrupted');
      const d = e.data as Record<string, unknown>;
      if (e.type === 'policy.deny') {
        emit({ seq: e.seq, text: String(d.text ?? ''), verdict: { kind: 'skipped', text: `skipped: denied when recorded (${String(d.rule)})` }, notes: [] });
        continue;
      }
      if (e.type !== 'db.query') continue;
      const text = String(d.text ?? '');
      const params = Array.isArray(d.params) ? d.params.map((p) => (p === null ? null : String(p))) : undefined;
      const extended = d.mode === 'extended';
      const recorded = outcomes.get(e.seq);
      if (recorded?.skipped && recorded.results.length === 0 && !recorded.error) {
        emit({ seq: e.seq, text, verdict: { kind: 'skipped', text: 'skipped: never executed (the target skipped it after an earlier error)' }, notes: [] });
        continue;
      }
      const notes: string[] = [];
      if (MASKED.test(text) || params?.some((p) => p !== null && MASKED.test(p))) notes.push('contains masked values, re-sent as stored');
      if (params?.some((p) => p !== null && p.endsWith('…') && p.startsWith('\\x'))) notes.push('a binary parameter was recorded truncated');
      if (!rec.healthy) throw new AirlockError(ErrorCodes.store, `the recording store is failing (${o.recorder.unhealthyReason ?? 'unknown error'}); stopped before running #${e.seq}`);
      const command = { protocol: 'postgres', kind: 'query', text, params } as const;
      const decision = (await o.policy.policy.decideLater?.(command, o.identity)) ?? o.policy.policy.decide(command, o.identity);
      if (decision.action !== 'allow') {
        const reason = decision.action === 'deny' ? decision.reason : `needs review under ${decision.rule}; re-execution does not wait for reviews`;
        const masked = mask.maskText(text, maskCounts);
        rec.record('policy.deny', { text: masked, rule: decision.rule, reason }, { searchText: masked, outcome: 'denied' });
        emit({ seq: e.seq, text, verdict: { kind: 'denied_now', text: `denied now by ${o.to}'s policy (${decision.rule}): ${reason}` }, notes });
        continue;
      }
      samples = [];
      log.begin(text, params, extended ? 'extended' : 'simple', extended ? '' : undefined);
      const now = extended ? await runner.extended(text, params ?? [], observer) : await runner.simple(text, observer);
      emit({ seq: e.seq, text, verdict: compareOutcome(recorded, now, samples), notes });
    }
  } catch (err) {
    endReason = o.signal?.aborted ? 'replay_interrupted' : 'replay_failed';
    failure = err;
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await runner.close();
    await rec.end(endReason, failure ? { message: failure instanceof Error ? failure.message : String(failure) } : undefined);
  }
  if (failure) throw failure;
  const differ = counts.rows_differ + counts.result_differs + counts.error_now + counts.error_differs + counts.fixed + counts.denied_now;
  return { sessionId: rec.id, statements, counts, allSame: differ === 0 };
}
