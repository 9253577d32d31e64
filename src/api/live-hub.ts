import type { Logger } from '../core/logger.ts';
import type { ReviewRecord, ReviewStore } from '../store/review-types.ts';
import type { StoredEvent } from '../store/types.ts';

export type EventListener = (events: readonly StoredEvent[]) => void;
export type ReviewListener = (review: ReviewRecord) => void;

/** Store polling for reviews: requests and decisions made through another gateway instance. */
const REVIEW_POLL_MS = 2000;

const stateOf = (r: ReviewRecord) => `${r.status}:${r.decidedAt ?? ''}`;

/**
 * In-process fan-out for the live views: events of a session once the recorder has written them (so what a
 * subscriber is pushed is always also readable from the store), and review changes. Reviews handled by
 * another gateway instance sharing the store are found by one store poll for all review subscribers;
 * session tails poll the store themselves from where each one is (session-live.ts).
 */
export class LiveHub {
  private readonly sessions = new Map<string, Set<EventListener>>();
  private readonly reviews = new Set<ReviewListener>();
  /** State of each review at the last poll; undefined until the first poll (the baseline). */
  private known: Map<string, string> | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(
    private readonly store: Pick<ReviewStore, 'listReviews'>,
    private readonly log: Logger,
    private readonly pollMs = REVIEW_POLL_MS,
  ) {}

  /** Wired to `Recorder.onWritten`: one call per written batch, cheap when nobody watches. */
  written(batch: readonly StoredEvent[]): void {
    if (this.sessions.size === 0) return;
    let bySession: Map<string, StoredEvent[]> | undefined;
    for (const e of batch) {
      if (!this.sessions.has(e.sessionId)) continue;
      bySession ??= new Map();
      let list = bySession.get(e.sessionId);
      if (!list) bySession.set(e.sessionId, (list = []));
      list.push(e);
    }
    if (!bySession) return;
    for (const [id, events] of bySession) for (const l of this.sessions.get(id) ?? []) safely(() => l(events));
  }

  /** Wired to `ReviewService.onChange`; also called for changes the store poll finds. */
  reviewChanged(review: ReviewRecord): void {
    this.known?.set(review.id, stateOf(review));
    for (const l of this.reviews) safely(() => l(review));
  }

  onSession(sessionId: string, listener: EventListener): () => void {
    let set = this.sessions.get(sessionId);
    if (!set) this.sessions.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.sessions.get(sessionId) === set) this.sessions.delete(sessionId);
    };
  }

  /** Resolves once the store poll has its baseline, so changes from then on are reported. */
  async onReview(listener: ReviewListener): Promise<() => void> {
    this.reviews.add(listener);
    if (!this.poller) {
      this.poller = setInterval(() => void this.pollReviews(), this.pollMs);
      this.poller.unref();
    }
    if (!this.known) await this.pollReviews();
    return () => {
      this.reviews.delete(listener);
      if (this.reviews.size === 0) {
        clearInterval(this.poller);
        this.poller = undefined;
        this.known = undefined;
      }
    };
  }

  private async pollReviews(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const list = await this.store.listReviews({ limit: 500 });
      if (this.reviews.size === 0) return;
      const known = this.known;
      this.known = new Map(list.map((r) => [r.id, stateOf(r)]));
      if (known) for (const r of list) if (known.get(r.id) !== stateOf(r)) this.reviewChanged(r);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live reviews: store poll failed; retrying');
    } finally {
      this.polling = false;
    }
  }
}

/** A failing viewer must never disturb the recorder or the review service that notify it. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // the viewer's stream is closed by its own error handling
  }
}
