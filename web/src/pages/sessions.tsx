import { useEffect, useRef, useState } from 'preact/hooks';
import { api, query } from '../api.ts';
import { Link } from '../components/link.tsx';
import { Snippet } from '../components/snippet.tsx';
import { bytes, dateTime, duration } from '../format.ts';
import { can } from '../roles.ts';
import { navigate } from '../router.ts';
import type { Connection, Me, SearchHit, Session } from '../types.ts';

const FILTERS = ['search', 'user', 'connection', 'protocol', 'outcome', 'since', 'open'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const OUTCOMES = ['allowed', 'denied', 'reviewed', 'error'];
const SINCE = [['1h', 'last hour'], ['24h', 'last 24 h'], ['7d', 'last 7 days'], ['30d', 'last 30 days']];
/** The list refreshes itself this often so live sessions appear and end without a reload. */
const REFRESH_MS = 10_000;

type Result = { kind: 'sessions'; rows: Session[]; next: string | null } | { kind: 'hits'; rows: SearchHit[]; next: string | null };

export function SessionsPage({ me, params }: { me: Me; params: URLSearchParams }) {
  const filters: Filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? undefined]).filter(([, v]) => v));
  const key = JSON.stringify(filters);
  const [result, setResult] = useState<Result | undefined>();
  const [error, setError] = useState('');
  const [connections, setConnections] = useState<Connection[]>([]);
  const [text, setText] = useState(filters.search ?? '');

  useEffect(() => {
    api<{ connections: Connection[] }>('/api/connections').then((r) => setConnections(r.connections), () => setConnections([]));
  }, []);
  useEffect(() => setText(filters.search ?? ''), [filters.search]);

  const load = async (cursor?: string) => {
    const q = query({ ...filters, cursor, limit: 50, ...(filters.search ? {} : { outcome: undefined }) });
    const r = await api<{ sessions?: Session[]; hits?: SearchHit[]; next?: string | null }>(`/api/sessions${q}`);
    const next = r.next ?? null;
    return r.hits ? ({ kind: 'hits', rows: r.hits, next } as const) : ({ kind: 'sessions', rows: r.sessions ?? [], next } as const);
  };

  const current = useRef(key);
  useEffect(() => {
    current.current = key;
    setResult(undefined);
    setError('');
    let timer: number | undefined;
    const refresh = async (first: boolean) => {
      try {
        const r = await load();
        if (current.current !== key) return;
        // A refresh keeps pages loaded with "More" and only updates the first page.
        setResult((old) => (first || !old || old.kind !== r.kind || old.rows.length <= r.rows.length ? r : mergeFirstPage(old, r)));
        setError('');
      } catch (err) {
        if (current.current === key) setError((err as Error).message);
      }
      if (!filters.search && current.current === key) timer = window.setTimeout(() => void refresh(false), REFRESH_MS);
    };
    void refresh(true);
    return () => window.clearTimeout(timer);
  }, [key]);

  const set = (patch: Filters) => {
    const next = { ...filters, ...patch };
    navigate(`/sessions${query(next)}`, { replace: true });
  };

  const more = async () => {
    if (!result?.next) return;
    try {
      const r = await load(result.next);
      setResult((old) => (old && old.kind === r.kind ? ({ kind: r.kind, rows: [...old.rows, ...r.rows], next: r.next } as Result) : r));
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const seesAll = can(me, 'audit');
  return (
    <div>
      <form class="toolbar" id="session-search" onSubmit={(e) => { e.preventDefault(); set({ search: text.trim() || undefined }); }}>
        <input id="search" type="search" class="grow" placeholder="Search statements, commands and output…  (e.g. DELETE FROM users)" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit" class="button primary">Search</button>
        {seesAll && (
          <input id="filter-user" type="text" placeholder="user" size={10} value={filters.user ?? ''} onChange={(e) => set({ user: (e.target as HTMLInputElement).value.trim() || undefined })} />
        )}
        <select id="filter-connection" value={filters.connection ?? ''} onChange={(e) => set({ connection: (e.target as HTMLSelectElement).value || undefined })}>
          <option value="">all connections</option>
          {connections.map((c) => <option value={c.name}>{c.name}</option>)}
          {filters.connection && !connections.some((c) => c.name === filters.connection) && <option value={filters.connection}>{filters.connection}</option>}
        </select>
        <select id="filter-protocol" value={filters.protocol ?? ''} onChange={(e) => set({ protocol: (e.target as HTMLSelectElement).value || undefined })}>
          <option value="">all protocols</option>
          {[...new Set([...connections.map((c) => c.type), ...(filters.protocol ? [filters.protocol] : [])])].sort().map((p) => <option value={p}>{p}</option>)}
        </select>
        {filters.search && (
          <select id="filter-outcome" value={filters.outcome ?? ''} onChange={(e) => set({ outcome: (e.target as HTMLSelectElement).value || undefined })}>
            <option value="">any outcome</option>
            {OUTCOMES.map((o) => <option value={o}>{o}</option>)}
          </select>
        )}
        <select id="filter-since" value={filters.since ?? ''} onChange={(e) => set({ since: (e.target as HTMLSelectElement).value || undefined })}>
          <option value="">any time</option>
          {SINCE.map(([v, label]) => <option value={v}>{label}</option>)}
        </select>
        {!filters.search && (
          <label class="check">
            <input id="filter-open" type="checkbox" checked={filters.open === 'true'} onChange={(e) => set({ open: (e.target as HTMLInputElement).checked ? 'true' : undefined })} /> live only
          </label>
        )}
      </form>
      {!seesAll && <p class="muted small">You see your own sessions.</p>}
      {error && <p class="error">{error}</p>}
      {!result && !error && <p class="muted">Loading…</p>}
      {result?.kind === 'sessions' && <SessionTable rows={result.rows} />}
      {result?.kind === 'hits' && <HitTable rows={result.rows} search={filters.search ?? ''} />}
      {result?.next && <button type="button" class="button" id="more" onClick={more}>More</button>}
    </div>
  );
}

function mergeFirstPage(old: Result, fresh: Result): Result {
  const ids = new Set(fresh.rows.map(rowKey));
  return { ...old, rows: [...fresh.rows, ...old.rows.filter((r) => !ids.has(rowKey(r)))] } as Result;
}
const rowKey = (r: Session | SearchHit) => ('seq' in r ? `${r.sessionId}/${r.seq}` : r.id);

function SessionTable({ rows }: { rows: Session[] }) {
  if (!rows.length) return <p class="empty">No sessions match.</p>;
  return (
    <table class="grid" id="sessions">
      <thead>
        <tr><th></th><th>Started</th><th>User</th><th>Connection</th><th>Protocol</th><th>Duration</th><th class="num">Events</th><th class="num">In / out</th><th>Ended</th></tr>
      </thead>
      <tbody>
        {rows.map((s) => {
          const live = s.live ?? s.endedAt === null;
          return (
            <tr key={s.id} class="clickable" data-session={s.id} onClick={(e) => openRow(e, `/sessions/${s.id}`)}>
              <td>{live ? <span class="badge live">live</span> : <span class="badge">ended</span>}</td>
              <td class="nowrap"><Link href={`/sessions/${s.id}`}>{dateTime(s.startedAt)}</Link></td>
              <td>{s.subject}{s.kind === 'service' && <span class="tag">service</span>}</td>
              <td>{s.connection}</td>
              <td>{s.protocol}</td>
              <td class="nowrap">{duration((s.endedAt ?? Date.now()) - s.startedAt)}</td>
              <td class="num">{s.eventCount || ''}</td>
              <td class="num nowrap">{bytes(s.bytesIn)} / {bytes(s.bytesOut)}</td>
              <td class="muted">{s.endReason ?? ''}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function HitTable({ rows, search }: { rows: SearchHit[]; search: string }) {
  if (!rows.length) return <p class="empty">Nothing recorded matches “{search}”.</p>;
  return (
    <table class="grid" id="hits">
      <thead>
        <tr><th>Time</th><th>User</th><th>Connection</th><th>Event</th><th>Match</th></tr>
      </thead>
      <tbody>
        {rows.map((h) => (
          <tr key={`${h.sessionId}/${h.seq}`} class="clickable" data-session={h.sessionId} onClick={(e) => openRow(e, `/sessions/${h.sessionId}?seq=${h.seq}`)}>
            <td class="nowrap"><Link href={`/sessions/${h.sessionId}?seq=${h.seq}`}>{dateTime(h.time)}</Link></td>
            <td>{h.subject}</td>
            <td>{h.connection}</td>
            <td><span class={`type t-${h.type.split('.')[0]}`}>{h.type}</span></td>
            <td class="code"><Snippet text={h.snippet} search={search} /></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A click anywhere on a row opens it, unless it was on the row's own link (which navigates itself). */
function openRow(e: MouseEvent, href: string): void {
  if ((e.target as HTMLElement).closest('a')) return;
  navigate(href);
}
