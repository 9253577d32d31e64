import { useEffect, useState } from 'preact/hooks';
import { api, subscribe } from '../api.ts';
import { dateTime, relative } from '../format.ts';
import type { Me, Review } from '../types.ts';

/** Decided requests stay on screen this long, so the approver sees what just happened. */
const RECENT_MS = 10 * 60_000;

/**
 * The review queue: pending statements and access requests the caller may decide, updated live over
 * GET /api/reviews/live (created, decided elsewhere, expired) without a reload.
 */
export function ReviewsPage({ me }: { me: Me }) {
  const [reviews, setReviews] = useState<Map<string, Review>>(new Map());
  const [error, setError] = useState('');
  const [connected, setConnected] = useState(false);
  const [, tick] = useState(0);

  useEffect(() => {
    const upsert = (r: Review) => setReviews((old) => new Map(old).set(r.id, r));
    // What waits, and what was decided in the last minutes (so a reload keeps the context).
    for (const status of ['pending', 'approved', 'denied', 'expired']) {
      api<{ reviews: Review[] }>(`/api/reviews?status=${status}`).then(
        (r) => setReviews((old) => {
          const m = new Map(old);
          const since = Date.now() - RECENT_MS;
          for (const x of r.reviews) if (!m.has(x.id) && (status === 'pending' || Date.parse(x.decidedAt ?? '') > since)) m.set(x.id, x);
          return m;
        }),
        (err: Error) => setError(err.message),
      );
    }
    const stop = subscribe('/api/reviews/live', { review: (r) => upsert(r as Review) }, setConnected);
    // Deadlines ("expires in …") count down.
    const timer = window.setInterval(() => tick((n) => n + 1), 5000);
    return () => {
      stop();
      window.clearInterval(timer);
    };
  }, []);

  const now = Date.now();
  const all = [...reviews.values()];
  const pending = all.filter((r) => r.status === 'pending').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const recent = all
    .filter((r) => r.status !== 'pending' && r.decidedAt && now - Date.parse(r.decidedAt) < RECENT_MS)
    .sort((a, b) => (b.decidedAt ?? '').localeCompare(a.decidedAt ?? ''));
  const decided = (r: Review) => setReviews((old) => new Map(old).set(r.id, r));

  return (
    <div>
      <div class="toolbar">
        <h1 class="inline">Review queue</h1>
        <span class={`stream-state ${connected ? 'on' : 'off'}`} id="queue-state">{connected ? 'live' : 'connecting…'}</span>
      </div>
      {error && <p class="error">{error}</p>}
      <div class="reviews" id="pending">
        {pending.length === 0 && <p class="empty" id="queue-empty">Nothing waits for a decision.</p>}
        {pending.map((r) => <PendingReview key={r.id} r={r} me={me} onDecided={decided} />)}
      </div>
      {recent.length > 0 && (
        <>
          <h2>Decided recently</h2>
          <div class="reviews" id="decided">
            {recent.map((r) => (
              <div class="review decided" key={r.id} data-review={r.id}>
                <div class="who">
                  <span class={`outcome ${r.status}`}>{r.status}</span>
                  <span>by <b>{r.reviewer ?? 'nobody'}</b>{r.decidedAt && ` at ${dateTime(Date.parse(r.decidedAt))}`}</span>
                  {r.reason && <span>“{r.reason}”</span>}
                  {r.validUntil && <span>identical statements pass until {dateTime(Date.parse(r.validUntil))}</span>}
                </div>
                <pre>{r.visibleText ?? r.text}</pre>
                <div class="who"><span>requested by <b>{r.requester}</b> on <b>{r.connection}</b></span><span>rule <b>{r.rule}</b></span></div>
              </div>
            ))}
          </div>
        </>
      )}
    </div>
  );
}

interface ContextEvent {
  readonly seq: number;
  readonly type: string;
  readonly data: Record<string, unknown>;
}

/** What led up to a held statement (GET /api/reviews/ID/context, audited), loaded only when opened. */
function SessionContext({ id }: { id: string }) {
  const [events, setEvents] = useState<ContextEvent[] | undefined>();
  const [error, setError] = useState('');
  const load = (e: Event) => {
    if (!(e.currentTarget as HTMLDetailsElement).open || events) return;
    api<{ events: ContextEvent[] }>(`/api/reviews/${encodeURIComponent(id)}/context`).then((r) => setEvents(r.events), (err: Error) => setError(err.message));
  };
  const line = (e: ContextEvent) => {
    const d = e.data;
    const text = d.text ?? d.command ?? d.line ?? d.path ?? '';
    return `${e.type}${text ? `  ${String(text)}` : ''}`;
  };
  return (
    <details class="review-context" onToggle={load}>
      <summary>Session so far</summary>
      {error && <p class="error">{error}</p>}
      {events && (events.length ? <pre>{events.map(line).join('\n')}</pre> : <p class="muted small">Nothing recorded before this statement.</p>)}
    </details>
  );
}

function PendingReview({ r, me, onDecided }: { r: Review; me: Me; onDecided: (r: Review) => void }) {
  const [reason, setReason] = useState('');
  const [passFor, setPassFor] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const own = r.requester === me.subject;
  const decide = async (action: 'approve' | 'deny') => {
    if (action === 'deny' && !reason.trim()) {
      setError('Give a reason to deny.');
      return;
    }
    setBusy(true);
    setError('');
    try {
      const body: { reason?: string; for?: string } = {};
      if (reason.trim()) body.reason = reason.trim();
      if (action === 'approve' && passFor) body.for = passFor;
      const { review } = await api<{ review: Review }>(`/api/reviews/${encodeURIComponent(r.id)}/${action}`, { method: 'POST', body });
      onDecided(review);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="review" data-review={r.id}>
      <div class="who">
        <span><b>{r.kind === 'access' ? 'Access request' : 'Statement held'}</b></span>
        <span>by <b>{r.requester}</b></span>
        <span>on <b>{r.connection}</b></span>
        <span>rule <b>{r.rule}</b></span>
        <span>approvers: {r.approvers.join(', ')}</span>
        <span>asked {relative(Date.parse(r.createdAt))}</span>
        <span>expires {relative(Date.parse(r.expiresAt))}</span>
      </div>
      <pre class="review-text">{r.visibleText ?? r.text}</pre>
      {r.sessionId && <SessionContext id={r.id} />}
      {own ? (
        <p class="muted small">This is your own request: someone else decides it.</p>
      ) : (
        <form onSubmit={(e) => { e.preventDefault(); void decide('approve'); }}>
          <input class="reason" placeholder="Reason (required to deny)" value={reason} maxLength={2000} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
          {r.kind === 'command' && (
            <select class="window" value={passFor} onChange={(e) => setPassFor((e.target as HTMLSelectElement).value)} title="Let exactly this statement (same text, same values) from the same person pass without review for a while">
              <option value="">this statement once</option>
              {['15m', '1h', '8h'].map((w) => <option value={w}>and exactly this statement again for {w}</option>)}
            </select>
          )}
          <button type="submit" class="button approve" disabled={busy}>Approve</button>
          <button type="button" class="button deny" disabled={busy} onClick={() => decide('deny')}>Deny</button>
        </form>
      )}
      {error && <p class="error">{error}</p>}
    </div>
  );
}
