import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { SessionEvent, Store } from '../store/types.ts';

/**
 * Store-wide event export for SIEMs: every session's events in recording order, as JSON Lines in our own
 * shape (event + its session's identity fields) or as OCSF 1.3 events.
 *
 * OCSF mapping (one OCSF event per line):
 *   session.start / session.end     → Authentication (3002) Logon / Logoff; SSH sessions → SSH Activity (4007) Open / Close
 *   session.target_failed           → Network Activity (4001) Fail
 *   db.result / db.error            → Datastore Activity (6005), one per statement result, carrying the statement
 *                                     text of its db.query (query_info), the outcome (status, status_code = SQLSTATE),
 *                                     timing (start_time, end_time, duration); activity from the command:
 *                                     Query (SELECT, SHOW…), Write (INSERT, COPY FROM), Update, Delete (DELETE,
 *                                     TRUNCATE, DROP), Create, else Other with activity_name = the command
 *   db.query with no outcome        → Datastore Activity, status Unknown, when its session ends or the export ends
 *   policy.deny / review.requested  → Datastore Activity with action Denied / status "Pending review" and an
 *                                     authorizations[] entry naming the rule
 *   anything else                   → Base Event (0), activity Other, activity_name = the Airlock event type
 *   *.output / *.input / *.resize   → not exported as OCSF (terminal bytes); they are in the jsonl export
 * Every event has actor.user (name, uid, type, groups, credential_uid), actor.session.uid = the Airlock session,
 * actor.app_name, src_endpoint (ip, port), dst_endpoint.svc_name = the connection, metadata (product, version,
 * uid = session/seq, correlation_uid = session) and `unmapped` with the Airlock fields not mapped.
 */

export type ExportFormat = 'jsonl' | 'ocsf';

export const OCSF_VERSION = '1.3.0';

const PRODUCT_VERSION: string = (() => {
  try {
    return String(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();

export interface StreamOptions {
  /** Milliseconds since the epoch, inclusive. */
  readonly since: number;
  /** Milliseconds since the epoch, exclusive. */
  readonly until?: number;
  readonly format?: ExportFormat;
  /** Keep polling for new events until `signal` aborts (or `until` has passed). */
  readonly follow?: boolean;
  readonly pollMs?: number;
  /**
   * Follow mode: each poll looks this far behind the newest event seen, so events a busy recorder writes
   * a little late still appear (deduplicated). Events written later than that are not seen by a follower.
   */
  readonly lagMs?: number;
  readonly signal?: AbortSignal;
  /** Clock and wait, for tests. */
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Lines (without newline) of the export: JSON Lines of our own events or of OCSF events. */
export async function* streamEvents(store: Store, options: StreamOptions): AsyncIterable<string> {
  const format = options.format ?? 'jsonl';
  const ocsf = format === 'ocsf' ? new OcsfMapper(store) : undefined;
  const emit = async function* (e: SessionEvent): AsyncIterable<string> {
    if (!ocsf) yield JSON.stringify(toJsonl(e));
    else for (const o of await ocsf.map(e)) yield JSON.stringify(o);
  };
  if (!options.follow) {
    for await (const e of store.readEventsSince(options.since, options.until)) yield* emit(e);
    if (ocsf) for (const o of ocsf.flush()) yield JSON.stringify(o);
    return;
  }
  const pollMs = options.pollMs ?? 1000;
  const lagMs = options.lagMs ?? 10_000;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? abortableSleep;
  const seen = new Map<string, number>();
  let newest = options.since;
  for (;;) {
    const from = Math.max(options.since, newest - lagMs);
    for await (const e of store.readEventsSince(from, options.until)) {
      const key = `${e.sessionId}\0${e.seq}`;
      if (seen.has(key)) continue;
      seen.set(key, e.time);
      if (e.time > newest) newest = e.time;
      yield* emit(e);
    }
    for (const [k, t] of seen) if (t < newest - lagMs) seen.delete(k);
    if (options.signal?.aborted) break;
    if (options.until !== undefined && now() >= options.until + lagMs) break;
    await sleep(pollMs, options.signal);
    if (options.signal?.aborted) break;
  }
  if (ocsf) for (const o of ocsf.flush()) yield JSON.stringify(o);
}

/** Our own export shape: the event with its session's identity fields. */
export function toJsonl(e: SessionEvent): Record<string, unknown> {
  return {
    time: e.time,
    timestamp: new Date(e.time).toISOString(),
    sessionId: e.sessionId,
    seq: e.seq,
    type: e.type,
    outcome: e.outcome ?? null,
    subject: e.subject,
    groups: e.groups,
    kind: e.kind,
    authMethod: e.authMethod,
    credentialId: e.credentialId,
    connection: e.connection,
    protocol: e.protocol,
    clientAddress: e.clientAddress,
    application: e.application,
    data: e.data,
    hash: e.hash,
  };
}

// ---- OCSF ------------------------------------------------------------------------------------------

export type OcsfEvent = Record<string, unknown> & {
  category_uid: number;
  class_uid: number;
  activity_id: number;
  type_uid: number;
  time: number;
  severity_id: number;
  status_id: number;
  metadata: Record<string, unknown>;
};

const SEVERITY: Record<number, string> = { 0: 'Unknown', 1: 'Informational', 2: 'Low', 3: 'Medium', 4: 'High', 5: 'Critical', 6: 'Fatal', 99: 'Other' };
const STATUS: Record<number, string> = { 0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other' };

interface OcsfClass {
  readonly category_uid: number;
  readonly category_name: string;
  readonly class_uid: number;
  readonly class_name: string;
}

const BASE: OcsfClass = { category_uid: 0, category_name: 'Uncategorized', class_uid: 0, class_name: 'Base Event' };
const AUTHENTICATION: OcsfClass = { category_uid: 3, category_name: 'Identity & Access Management', class_uid: 3002, class_name: 'Authentication' };
const NETWORK: OcsfClass = { category_uid: 4, category_name: 'Network Activity', class_uid: 4001, class_name: 'Network Activity' };
const SSH: OcsfClass = { category_uid: 4, category_name: 'Network Activity', class_uid: 4007, class_name: 'SSH Activity' };
const DATASTORE: OcsfClass = { category_uid: 6, category_name: 'Application Activity', class_uid: 6005, class_name: 'Datastore Activity' };

const DATASTORE_ACTIVITY: Record<string, [number, string]> = {
  QUERY: [4, 'Query'],
  WRITE: [5, 'Write'],
  UPDATE: [2, 'Update'],
  DELETE: [7, 'Delete'],
  CREATE: [6, 'Create'],
};

/** Datastore Activity activity for a SQL command (from the result tag when there is one, else the text). */
export function datastoreActivity(text: string, tag?: string): [number, string] {
  const words = (tag && tag.trim() ? tag : text.replace(/^(?:\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, '')).trim().split(/\s+/);
  const verb = (words[0] ?? '').replace(/[^A-Za-z]/g, '').toUpperCase();
  switch (verb) {
    case 'SELECT':
    case 'SHOW':
    case 'FETCH':
    case 'EXPLAIN':
    case 'TABLE':
    case 'VALUES':
      return DATASTORE_ACTIVITY.QUERY;
    case 'WITH':
      return /\b(insert|update|delete|merge)\b/i.test(text) ? [99, 'WITH'] : DATASTORE_ACTIVITY.QUERY;
    case 'INSERT':
    case 'MERGE':
      return DATASTORE_ACTIVITY.WRITE;
    case 'COPY':
      return /\bto\s+(?:stdout|program|')/i.test(text) ? DATASTORE_ACTIVITY.QUERY : DATASTORE_ACTIVITY.WRITE;
    case 'UPDATE':
      return DATASTORE_ACTIVITY.UPDATE;
    case 'DELETE':
    case 'TRUNCATE':
    case 'DROP':
      return DATASTORE_ACTIVITY.DELETE;
    case 'CREATE':
      return DATASTORE_ACTIVITY.CREATE;
    case '':
      return [0, 'Unknown'];
    default:
      return [99, verb];
  }
}

function endpoint(address: string): Record<string, unknown> {
  const m = /^\[([^\]]+)\]:(\d+)$|^([^:]+):(\d+)$/.exec(address);
  const host = m ? (m[1] ?? m[3]) : address;
  const port = m ? Number(m[2] ?? m[4]) : undefined;
  if (isIP(host)) return port ? { ip: host, port } : { ip: host };
  return { name: address };
}

function actor(e: SessionEvent): Record<string, unknown> {
  const service = e.kind === 'service';
  const user: Record<string, unknown> = {
    name: e.subject,
    uid: e.subject,
    type_id: service ? 99 : 1,
    type: service ? 'Service' : 'User',
    groups: e.groups.map((name) => ({ name })),
  };
  if (e.credentialId) user.credential_uid = e.credentialId;
  return { user, session: { uid: e.sessionId }, ...(e.application ? { app_name: e.application } : {}) };
}

interface Fields {
  readonly activity: [number, string];
  readonly severity?: number;
  readonly status?: number;
  readonly statusName?: string;
  readonly statusCode?: string | null;
  readonly statusDetail?: string | null;
  readonly message: string;
  /** Event time override (ms). */
  readonly time?: number;
  readonly extra?: Record<string, unknown>;
  readonly unmapped?: Record<string, unknown>;
}

function ocsfEvent(cls: OcsfClass, e: SessionEvent, f: Fields, uid = `${e.sessionId}/${e.seq}`): OcsfEvent {
  const [activityId, activityName] = f.activity;
  const severity = f.severity ?? 1;
  const status = f.status ?? 1;
  const out: OcsfEvent = {
    category_uid: cls.category_uid,
    category_name: cls.category_name,
    class_uid: cls.class_uid,
    class_name: cls.class_name,
    activity_id: activityId,
    activity_name: activityName,
    type_uid: cls.class_uid * 100 + activityId,
    type_name: `${cls.class_name}: ${activityName}`,
    time: Math.floor(f.time ?? e.time),
    severity_id: severity,
    severity: SEVERITY[severity],
    status_id: status,
    status: f.statusName ?? STATUS[status],
    message: f.message,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Airlock', vendor_name: 'Airlock', version: PRODUCT_VERSION },
      uid,
      correlation_uid: e.sessionId,
      log_name: 'airlock.sessions',
    },
    actor: actor(e),
    src_endpoint: endpoint(e.clientAddress),
    dst_endpoint: { svc_name: e.connection },
    ...f.extra,
    unmapped: { event_type: e.type, seq: e.seq, hash: e.hash, protocol: e.protocol, connection: e.connection, ...f.unmapped },
  };
  if (f.statusCode) out.status_code = f.statusCode;
  if (f.statusDetail) out.status_detail = f.statusDetail;
  return out;
}

/** Auth protocol of an Airlock authentication method (OCSF auth_protocol_id). */
function authProtocol(method: string): { auth_protocol_id: number; auth_protocol: string } {
  switch (method) {
    case 'oidc':
      return { auth_protocol_id: 4, auth_protocol: 'OpenID' };
    case 'saml':
      return { auth_protocol_id: 5, auth_protocol: 'SAML' };
    case 'token':
      return { auth_protocol_id: 99, auth_protocol: 'Airlock access token' };
    case 'ssh-key':
      return { auth_protocol_id: 99, auth_protocol: 'SSH public key' };
    default:
      return { auth_protocol_id: 99, auth_protocol: method };
  }
}

interface QueryInfo {
  readonly seq: number;
  readonly time: number;
  readonly text: string;
  readonly params?: unknown;
  readonly mode?: unknown;
  resolved: boolean;
  /** The db.query event itself, kept to describe it if it never gets an outcome. */
  readonly event: SessionEvent;
}

/**
 * Maps Airlock events to OCSF. Stateful: a statement's text comes from its db.query, its outcome from
 * the db.result / db.error that follow, so queries wait (per session) for their outcome.
 */
export class OcsfMapper {
  private readonly queries = new Map<string, Map<number, QueryInfo>>();

  constructor(private readonly store?: Store) {}

  async map(e: SessionEvent): Promise<OcsfEvent[]> {
    const d = e.data as Record<string, unknown>;
    switch (e.type) {
      case 'session.start':
        return [this.sessionEvent(e, true)];
      case 'session.end': {
        const out = this.unresolved(e.sessionId, Number.POSITIVE_INFINITY);
        this.queries.delete(e.sessionId);
        out.push(this.sessionEvent(e, false));
        return out;
      }
      case 'session.target_failed':
        return [ocsfEvent(NETWORK, e, {
          activity: [4, 'Fail'], severity: 2, status: 2, statusCode: d.code == null ? null : String(d.code), statusDetail: String(d.message ?? ''),
          message: `Airlock could not open connection ${e.connection} for ${e.subject}: ${String(d.message ?? '')}`,
        })];
      case 'db.query': {
        let m = this.queries.get(e.sessionId);
        if (!m) this.queries.set(e.sessionId, (m = new Map()));
        m.set(e.seq, { seq: e.seq, time: e.time, text: String(d.text ?? ''), params: d.params, mode: d.mode, resolved: false, event: e });
        return [];
      }
      case 'db.result':
      case 'db.error':
        return this.outcome(e, d);
      case 'policy.deny':
      case 'review.requested': {
        const deny = e.type === 'policy.deny';
        const text = String(d.text ?? '');
        return [ocsfEvent(DATASTORE, e, {
          activity: datastoreActivity(text),
          severity: deny ? 3 : 2,
          status: deny ? 2 : 99,
          statusName: deny ? 'Failure' : 'Pending review',
          statusDetail: deny ? String(d.reason ?? '') : `held for review under ${String(d.rule)}`,
          message: deny
            ? `Airlock denied a statement by ${e.subject} on ${e.connection} (rule ${String(d.rule)}): ${String(d.reason ?? '')}`
            : `Airlock held a statement by ${e.subject} on ${e.connection} for review (rule ${String(d.rule)})`,
          extra: {
            ...datastoreFields(e, text, `${e.sessionId}/${e.seq}`),
            action_id: deny ? 2 : 99,
            action: deny ? 'Denied' : 'Other',
            disposition_id: deny ? 2 : 99,
            disposition: deny ? 'Blocked' : 'Pending review',
            authorizations: [{ decision: deny ? 'Denied' : 'Review required', policy: { name: String(d.rule), ...(deny ? { desc: String(d.reason ?? '') } : {}) } }],
          },
          unmapped: deny ? {} : { approvers: d.approvers },
        })];
      }
      default:
        if (/\.(output|input|resize)$/.test(e.type)) return [];
        return [ocsfEvent(BASE, e, {
          activity: [99, e.type],
          status: e.type === 'review.decided' ? (d.approved ? 1 : 2) : 0,
          message: baseMessage(e, d),
          unmapped: { data: d },
        })];
    }
  }

  /** Statements still waiting for an outcome, as status Unknown (the export ends). */
  flush(): OcsfEvent[] {
    const out: OcsfEvent[] = [];
    for (const id of [...this.queries.keys()]) out.push(...this.unresolved(id, Number.POSITIVE_INFINITY));
    this.queries.clear();
    return out;
  }

  private sessionEvent(e: SessionEvent, start: boolean): OcsfEvent {
    const d = e.data as Record<string, unknown>;
    const reason = start ? undefined : String(d.reason ?? 'unknown');
    const unmapped = start ? { application: e.application, kind: e.kind } : { reason, bytes_in: d.bytesIn, bytes_out: d.bytesOut };
    const message = start
      ? `${e.subject} opened a ${e.protocol} session on ${e.connection} from ${e.clientAddress}`
      : `${e.subject}'s ${e.protocol} session on ${e.connection} ended (${reason})`;
    if (e.protocol === 'ssh') {
      return ocsfEvent(SSH, e, { activity: start ? [1, 'Open'] : [2, 'Close'], message, statusDetail: reason, unmapped });
    }
    const user = (actor(e) as { user: unknown }).user;
    return ocsfEvent(AUTHENTICATION, e, {
      activity: start ? [1, 'Logon'] : [2, 'Logoff'],
      message,
      statusDetail: reason,
      extra: { user, ...authProtocol(e.authMethod), service: { name: e.connection }, session: { uid: e.sessionId }, is_remote: true },
      unmapped,
    });
  }

  private async outcome(e: SessionEvent, d: Record<string, unknown>): Promise<OcsfEvent[]> {
    const seq = typeof d.query === 'number' ? d.query : undefined;
    const out: OcsfEvent[] = seq === undefined ? [] : this.unresolved(e.sessionId, seq);
    const q = seq === undefined ? undefined : await this.query(e.sessionId, seq);
    if (q) q.resolved = true;
    const text = q?.text ?? '';
    const uid = seq === undefined ? `${e.sessionId}/${e.seq}` : `${e.sessionId}/${seq}`;
    const timing: Record<string, unknown> = { end_time: Math.floor(e.time) };
    if (q) timing.start_time = Math.floor(q.time);
    if (typeof d.durationMs === 'number') timing.duration = Math.round(d.durationMs);
    const common = {
      ...datastoreFields(e, text, uid),
      ...timing,
      action_id: 1,
      action: 'Allowed',
      disposition_id: 1,
      disposition: 'Allowed',
    };
    const params = q?.params === undefined ? {} : { params: q.params };
    if (e.type === 'db.error') {
      const fatal = d.severity === 'FATAL' || d.severity === 'PANIC';
      out.push(ocsfEvent(DATASTORE, e, {
        activity: datastoreActivity(text),
        severity: fatal ? 3 : 2,
        status: 2,
        statusCode: d.code == null ? null : String(d.code),
        statusDetail: String(d.message ?? ''),
        message: `statement by ${e.subject} on ${e.connection} failed: ${String(d.code ?? '')} ${String(d.message ?? '')}`,
        extra: common,
        unmapped: { ...params, pg_severity: d.severity, detail: d.detail, query_seq: seq },
      }, `${uid}/${e.seq}`));
      return out;
    }
    if (d.skipped) {
      out.push(ocsfEvent(DATASTORE, e, {
        activity: datastoreActivity(text),
        status: 99,
        statusName: 'Skipped',
        statusDetail: 'the target skipped it after an earlier error in the same batch',
        message: `statement by ${e.subject} on ${e.connection} was not executed (skipped after an earlier error)`,
        extra: common,
        unmapped: { ...params, query_seq: seq },
      }, `${uid}/${e.seq}`));
      return out;
    }
    const tag = String(d.tag ?? '');
    out.push(ocsfEvent(DATASTORE, e, {
      activity: datastoreActivity(text, tag),
      message: `${tag || 'empty query'}${d.rows != null ? ` (${String(d.rows)} rows)` : ''} by ${e.subject} on ${e.connection}`,
      statusCode: '00000',
      extra: common,
      unmapped: { ...params, query_seq: seq, tag, rows: d.rows, columns: d.columns, truncated: d.truncated, copy_bytes: d.copyBytes },
    }, `${uid}/${e.seq}`));
    return out;
  }

  /** Earlier statements of the session without an outcome (results come in order) are reported as Unknown. */
  private unresolved(sessionId: string, beforeSeq: number): OcsfEvent[] {
    const m = this.queries.get(sessionId);
    if (!m) return [];
    const out: OcsfEvent[] = [];
    for (const [seq, q] of m) {
      if (seq >= beforeSeq) continue;
      if (!q.resolved) {
        const e = q.event;
        out.push(ocsfEvent(DATASTORE, e, {
          activity: datastoreActivity(q.text),
          status: 0,
          statusDetail: 'no outcome recorded',
          message: `statement by ${e.subject} on ${e.connection} without a recorded outcome`,
          extra: { ...datastoreFields(e, q.text, `${e.sessionId}/${e.seq}`), start_time: Math.floor(q.time), action_id: 1, action: 'Allowed', disposition_id: 1, disposition: 'Allowed' },
          unmapped: q.params === undefined ? { query_seq: seq } : { query_seq: seq, params: q.params },
        }));
      }
      m.delete(seq);
    }
    return out;
  }

  /** The db.query with `seq`: held, or (it came before the export window) read from the store. */
  private async query(sessionId: string, seq: number): Promise<QueryInfo | undefined> {
    const held = this.queries.get(sessionId)?.get(seq);
    if (held || !this.store) return held;
    for await (const q of this.store.readEvents(sessionId, seq)) {
      if (q.seq !== seq || q.type !== 'db.query') return undefined;
      const d = q.data as Record<string, unknown>;
      let m = this.queries.get(sessionId);
      if (!m) this.queries.set(sessionId, (m = new Map()));
      const info: QueryInfo = { seq, time: q.time, text: String(d.text ?? ''), params: d.params, mode: d.mode, resolved: true, event: q as SessionEvent };
      m.set(seq, info);
      return info;
    }
    return undefined;
  }
}

function datastoreFields(e: SessionEvent, text: string, uid: string): Record<string, unknown> {
  return {
    type_id: 1,
    type: 'Database',
    database: { name: e.connection, type_id: 1, type: 'Relational' },
    query_info: { query_string: text, uid },
  };
}

function baseMessage(e: SessionEvent, d: Record<string, unknown>): string {
  switch (e.type) {
    case 'review.decided':
      return `review ${String(d.reviewId ?? '')} of a statement by ${e.subject} on ${e.connection} ${d.approved ? 'approved' : 'denied'}${d.reviewer ? ` by ${String(d.reviewer)}` : ''}`;
    case 'replay.source':
      return `${e.subject} re-ran session ${String(d.sessionId)} against ${e.connection}`;
    case 'db.notice':
      return `${String(d.severity ?? 'NOTICE')} on ${e.connection}: ${String(d.message ?? '')}`;
    default:
      return `${e.type} in a ${e.protocol} session of ${e.subject} on ${e.connection}`;
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
