import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ReviewRecord } from '../store/review-types.ts';
import type { StoredEvent, Store } from '../store/types.ts';

/** Commands that reached the target, per protocol (a denied one is a `policy.deny` instead). */
const STATEMENTS = new Set(['db.query', 'ssh.exec', 'ssh.shell.line']);

export interface RecorderGauges {
  /** Events queued and not yet written. */
  readonly pending: number;
  readonly healthy: boolean;
}

/**
 * The gateway's Prometheus metrics. Fed from one place: the recorder's written batches (sessions,
 * statements, denials, bytes, write latency) and the review service's changes; gauges are read when
 * scraped. Values are this instance's (sum across instances in Prometheus), except `reviews_pending`,
 * which counts the shared store.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /** Protocol of each open session, learnt from its `session.start` event. */
  private readonly protocolOf = new Map<string, string>();
  private readonly byProtocol = new Map<string, PerProtocol>();
  private readonly sessions: Counter<'protocol'>;
  private readonly open: Gauge<'protocol'>;
  private readonly statements: Counter<'protocol' | 'outcome'>;
  private readonly denials: Counter<'protocol'>;
  private readonly bytes: Counter<'protocol' | 'direction'>;
  private readonly events: Counter<'protocol'>;
  private readonly writeSeconds: Histogram;
  private readonly decided: Counter<'kind' | 'status'>;

  constructor(recorder: RecorderGauges, store: Store) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'airlock_' });
    this.sessions = new Counter({ name: 'airlock_sessions_total', help: 'Sessions started', labelNames: ['protocol'], registers });
    this.open = new Gauge({ name: 'airlock_sessions_open', help: 'Sessions open now', labelNames: ['protocol'], registers });
    this.statements = new Counter({ name: 'airlock_statements_total', help: 'Statements and commands passed to targets', labelNames: ['protocol', 'outcome'], registers });
    this.denials = new Counter({ name: 'airlock_denials_total', help: 'Statements and commands refused by policy', labelNames: ['protocol'], registers });
    this.bytes = new Counter({ name: 'airlock_bytes_total', help: 'Bytes relayed by ended sessions (in: from clients, out: to clients)', labelNames: ['protocol', 'direction'], registers });
    this.events = new Counter({ name: 'airlock_recorded_events_total', help: 'Events written to the store', labelNames: ['protocol'], registers });
    this.writeSeconds = new Histogram({
      name: 'airlock_recorder_write_seconds', help: 'Time to write one batch of events to the store', registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    });
    this.decided = new Counter({ name: 'airlock_reviews_decided_total', help: 'Reviews decided or expired', labelNames: ['kind', 'status'], registers });
    new Gauge({
      name: 'airlock_recorder_queue_depth', help: 'Events recorded but not yet written', registers,
      collect() {
        this.set(recorder.pending);
      },
    });
    new Gauge({
      name: 'airlock_recorder_healthy', help: '1 while the store takes writes, 0 while the recorder retries (new commands are refused)', registers,
      collect() {
        this.set(recorder.healthy ? 1 : 0);
      },
    });
    new Gauge({
      name: 'airlock_reviews_pending', help: 'Reviews and access requests waiting for a decision (whole store)', labelNames: ['kind'], registers,
      async collect() {
        const pending = await store.listReviews({ status: 'pending', limit: 100_000 }).catch(() => undefined);
        if (!pending) return;
        const count = { command: 0, access: 0 };
        for (const r of pending) count[r.kind]++;
        for (const [kind, n] of Object.entries(count)) this.set({ kind }, n);
      },
    });
  }

  /** Wired to `Recorder.onWritten`: per event only a type test and a counter bump on cached label children. */
  written(batch: readonly StoredEvent[], writeMs: number): void {
    this.writeSeconds.observe(writeMs / 1000);
    let sessionId = '';
    let c: PerProtocol | undefined;
    let run = 0;
    for (const e of batch) {
      if (e.sessionId !== sessionId) {
        if (c && run) c.events.inc(run);
        sessionId = e.sessionId;
        c = this.counters(this.protocolOf.get(sessionId) ?? (typeof e.data.protocol === 'string' ? e.data.protocol : 'unknown'));
        run = 0;
      }
      run++;
      if (e.type === 'session.start') {
        this.protocolOf.set(e.sessionId, c!.protocol);
        c!.sessions.inc();
        c!.open.inc();
      } else if (e.type === 'session.end') {
        this.protocolOf.delete(e.sessionId);
        c!.open.dec();
        c!.bytesIn.inc(numberOr0(e.data.bytesIn));
        c!.bytesOut.inc(numberOr0(e.data.bytesOut));
      } else if (e.type === 'policy.deny') {
        c!.denials.inc();
      } else if (STATEMENTS.has(e.type) && e.outcome !== 'denied') {
        c!.statement(e.outcome ?? 'allowed').inc();
      }
    }
    if (c && run) c.events.inc(run);
  }

  private counters(protocol: string): PerProtocol {
    let c = this.byProtocol.get(protocol);
    if (!c) {
      const outcomes = new Map<string, Counter.Internal>();
      c = {
        protocol,
        sessions: this.sessions.labels(protocol), open: this.open.labels(protocol), denials: this.denials.labels(protocol),
        events: this.events.labels(protocol), bytesIn: this.bytes.labels(protocol, 'in'), bytesOut: this.bytes.labels(protocol, 'out'),
        statement: (outcome) => {
          let s = outcomes.get(outcome);
          if (!s) outcomes.set(outcome, (s = this.statements.labels(protocol, outcome)));
          return s;
        },
      };
      this.byProtocol.set(protocol, c);
    }
    return c;
  }

  /** Wired to `ReviewService.onChange`. */
  reviewChanged(r: ReviewRecord): void {
    if (r.status !== 'pending') this.decided.inc({ kind: r.kind, status: r.status });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A protocol's label children, looked up once (labelling on every event would hash the labels each time). */
interface PerProtocol {
  readonly protocol: string;
  readonly sessions: Counter.Internal;
  readonly open: Gauge.Internal<'protocol'>;
  readonly denials: Counter.Internal;
  readonly events: Counter.Internal;
  readonly bytesIn: Counter.Internal;
  readonly bytesOut: Counter.Internal;
  statement(outcome: string): Counter.Internal;
}

function numberOr0(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}
