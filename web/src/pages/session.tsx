import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, query, subscribe } from '../api.ts';
import { Link } from '../components/link.tsx';
import { recordingOf, type Recording } from '../components/recording.ts';
import { Timeline } from '../components/timeline.tsx';
import { bytes, dateTime, duration } from '../format.ts';
import { can } from '../roles.ts';
import { navigate } from '../router.ts';
import type { Me, Session, StoredEvent, Verification } from '../types.ts';

/** Events read per request: a small first page shows quickly, the rest follows in larger pages up to MAX_EVENTS. */
const FIRST_PAGE = 500;
const PAGE = 2000;
const MAX_EVENTS = 50_000;

export function SessionPage({ me, id, params }: { me: Me; id: string; params: URLSearchParams }) {
  const [session, setSession] = useState<Session | undefined>();
  const [events, setEvents] = useState<StoredEvent[]>([]);
  const [more, setMore] = useState<number | null>(null);
  const [error, setError] = useState('');
  const [verify, setVerify] = useState<Verification | undefined>();
  const [verifyError, setVerifyError] = useState('');
  const [streaming, setStreaming] = useState(false);
  const focusSeq = params.get('seq') !== null ? Number(params.get('seq')) : undefined;
  const tab = params.get('tab');

  const checkSeal = () => {
    setVerify(undefined);
    setVerifyError('');
    api<Verification>(`/api/sessions/${encodeURIComponent(id)}/verify`).then(setVerify, (err: Error) => setVerifyError(err.message));
  };

  useEffect(() => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    setSession(undefined);
    setEvents([]);
    setError('');
    (async () => {
      try {
        const base = `/api/sessions/${encodeURIComponent(id)}`;
        const first = await api<{ session: Session; events: StoredEvent[]; next: number | null }>(`${base}${query({ limit: FIRST_PAGE })}`);
        if (cancelled) return;
        // The first page shows at once; the rest of a long session streams in behind it.
        setSession(first.session);
        setEvents(first.events);
        // Verifying reads the whole chain on the gateway: asked once the first page is on screen.
        checkSeal();
        let count = first.events.length;
        let last = first.events.at(-1)?.seq ?? -1;
        let next = first.next;
        setMore(next);
        while (next !== null && count < MAX_EVENTS && !cancelled) {
          const page = await api<{ events: StoredEvent[]; next: number | null }>(`${base}/events${query({ from: next, limit: PAGE })}`);
          if (cancelled) return;
          setEvents((old) => old.concat(page.events));
          count += page.events.length;
          last = page.events.at(-1)?.seq ?? last;
          next = page.next;
          setMore(next);
        }
        if (!cancelled && first.session.endedAt === null && next === null) {
          // Live tail: everything after what was read, then the end of the session.
          stop = subscribe(
            `${base}/live${query({ from: last + 1 })}`,
            {
              event: (e) => setEvents((old) => (old.length && old[old.length - 1].seq >= (e as StoredEvent).seq ? old : [...old, e as StoredEvent])),
              end: (s) => {
                setSession(s as Session);
                setStreaming(false);
                stop?.();
              },
            },
            setStreaming,
          );
        }
      } catch (err) {
        if (!cancelled) setError((err as Error).message);
      }
    })();
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [id]);

  const recording = useMemo(() => (session ? recordingOf(events, session.startedAt, session.endedAt) : undefined), [events, session?.endedAt, session?.startedAt]);
  // The seal is checked again when a live session ends.
  useEffect(() => {
    if (session?.endedAt && verify && !verify.sealed) checkSeal();
  }, [session?.endedAt]);

  if (error) return <div class="panel"><p class="error">{error}</p><Link href="/sessions">Back to the sessions</Link></div>;
  if (!session) return <p class="muted">Loading…</p>;
  const live = session.endedAt === null;
  const view = tab === 'events' || !recording ? 'timeline' : 'replay';
  const setTab = (t: string) => navigate(`/sessions/${encodeURIComponent(id)}${query({ tab: t })}`, { replace: true });

  return (
    <div>
      <div class="panel">
        <div class="session-head">
          <div>
            <h1>
              {session.protocol.toUpperCase()} session on {session.connection} {live ? <span class="badge live" id="live-badge">live</span> : <span class="badge">ended</span>}
            </h1>
            <div class="muted code">{session.id}</div>
          </div>
          <div class="actions">
            <Seal v={verify} error={verifyError} live={live} />
            {can(me, 'audit') && <a class="button" id="export" href={`/api/sessions/${encodeURIComponent(id)}/export`} download>Export evidence</a>}
            {live && can(me, 'terminate') && <Terminate id={id} />}
          </div>
        </div>
        <dl class="facts">
          <Fact k="User" v={`${session.subject}${session.kind === 'service' ? ' (service)' : ''}`} />
          <Fact k="Groups" v={session.groups.join(', ') || '—'} />
          <Fact k="Authenticated by" v={session.authMethod} />
          <Fact k="Client" v={`${session.clientAddress}${session.application ? ` · ${session.application}` : ''}`} />
          <Fact k="Started" v={dateTime(session.startedAt)} />
          <Fact k={live ? 'Running for' : 'Duration'} v={duration((session.endedAt ?? Date.now()) - session.startedAt)} />
          <Fact k="Ended" v={session.endedAt ? dateTime(session.endedAt) : streaming ? 'live tail connected' : '—'} />
          {session.endReason && <Fact k="End reason" v={session.endReason} />}
          <Fact k="Traffic" v={`in ${bytes(session.bytesIn)} · out ${bytes(session.bytesOut)}`} />
          <Fact k="Events" v={String(live ? events.length : session.eventCount)} />
          {session.legalHold && <Fact k="Retention" v="legal hold" />}
        </dl>
      </div>
      {recording && (
        <div class="tabs">
          <button type="button" id="tab-replay" class={view === 'replay' ? 'active' : ''} onClick={() => setTab('replay')}>Replay</button>
          <button type="button" id="tab-events" class={view === 'timeline' ? 'active' : ''} onClick={() => setTab('events')}>Commands and events</button>
        </div>
      )}
      {view === 'replay' && recording ? <LazyReplay rec={recording} live={live} startAt={focusAt(events, focusSeq, session.startedAt)} /> : <Timeline events={events} startedAt={session.startedAt} focusSeq={focusSeq} />}
      {more !== null && (
        <p class="muted small" id="events-more">
          {events.length < MAX_EVENTS ? `Loading events… ${events.length} so far.` : `Only the first ${events.length} events are shown; export the session for the rest.`}
        </p>
      )}
    </div>
  );
}

/** The player (and xterm.js, most of the console's code) loads only when a replay is opened. */
/** Ends a live session (admins): the gateway holding it ends it within seconds; the live tail then shows the end. */
function Terminate({ id }: { id: string }) {
  const [state, setState] = useState<'idle' | 'asked' | string>('idle');
  const ask = async () => {
    const reason = window.prompt('End this session now? Its user is disconnected. Reason (recorded):', '');
    if (reason === null) return;
    setState('asked');
    try {
      await api(`/api/sessions/${encodeURIComponent(id)}/terminate`, { method: 'POST', body: reason.trim() ? { reason: reason.trim() } : {} });
    } catch (err) {
      setState((err as Error).message);
    }
  };
  if (state === 'asked') return <span class="badge warn" id="terminating">ending…</span>;
  return (
    <>
      <button type="button" class="button deny" id="terminate" onClick={() => void ask()}>End session</button>
      {state !== 'idle' && <span class="error">{state}</span>}
    </>
  );
}

function LazyReplay(props: { rec: Recording; live: boolean; startAt?: number }) {
  const [mod, setMod] = useState<typeof import('../components/replay.tsx')>();
  const [error, setError] = useState('');
  useEffect(() => {
    import('../components/replay.tsx').then(setMod, (err: Error) => setError(err.message));
  }, []);
  if (error) return <p class="error">The player did not load: {error}</p>;
  return mod ? <mod.Replay {...props} /> : <p class="muted">Loading the player…</p>;
}

/** Where a replay opened from a search hit starts: the hit's instant. */
function focusAt(events: StoredEvent[], seq: number | undefined, startedAt: number): number | undefined {
  const e = seq === undefined ? undefined : events.find((x) => x.seq === seq);
  return e ? e.time - startedAt : undefined;
}

function Fact({ k, v }: { k: string; v: string }) {
  return <div><dt>{k}</dt><dd title={v}>{v}</dd></div>;
}

/** The session's hash chain and seal, as GET /api/sessions/:id/verify reports them. */
function Seal({ v, error, live }: { v?: Verification; error: string; live: boolean }) {
  if (error) return <span class="badge warn" id="seal" title={error}>seal not checked</span>;
  if (!v) return <span class="badge" id="seal">checking seal…</span>;
  if (!v.ok) {
    const b = v.breaks[0];
    return <span class="badge bad" id="seal" title={v.breaks.map((x) => `seq ${x.seq}: ${x.problem}`).join('\n')}>chain broken{b ? ` at seq ${b.seq}: ${b.problem}` : ''}</span>;
  }
  if (!v.sealed) return <span class="badge warn" id="seal">{live ? `chain intact (${v.events} events), sealed when it ends` : 'chain intact, not sealed'}</span>;
  return <span class="badge ok" id="seal" title={`${v.events} events verified`}>✓ verified · sealed</span>;
}
