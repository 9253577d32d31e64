import type { ReviewRecord } from '../store/review-types.ts';
import type { StoredEvent } from '../store/types.ts';

export type EventListener = (events: readonly StoredEvent[]) => void;
export type ReviewListener = (review: ReviewRecord) => void;

/**
 * In-process fan-out for the live views: events of a session once the recorder has written them (so what a
 * subscriber is pushed is always also readable from the store), and review changes. Sessions served by
 * another gateway instance reach their viewers through store polling instead (see sse.ts callers).
 */
export class LiveHub {
  private readonly sessions = new Map<string, Set<EventListener>>();
  private readonly reviews = new Set<ReviewListener>();

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

  /** Wired to `ReviewService.onChange`. */
  reviewChanged(review: ReviewRecord): void {
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

  onReview(listener: ReviewListener): () => void {
    this.reviews.add(listener);
    return () => this.reviews.delete(listener);
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
