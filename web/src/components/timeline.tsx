import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { bytes, clock, duration } from '../format.ts';
import type { StoredEvent } from '../types.ts';

/**
 * A session's timeline: each statement or command with its outcome, duration and (masked) result; denials
 * and reviews inline where they happened. Results (db.result / db.error) are shown under the statement they
 * answer (their `query` field is the statement's seq); terminal I/O is left to the replay.
 */
interface Item {
  readonly key: number;
  /** Every seq the item shows, so `?seq=` can point at a result too. */
  readonly seqs: number[];
  readonly time: number;
  readonly outcome: string;
  readonly cls?: string;
  /** Built when shown: a long session has far more items than the page renders. */
  readonly body: () => ComponentChildren;
}

const TERMINAL_IO = /\.(output|input|resize)$/;
/** Items rendered at first and added each time the end of the list scrolls into view (long sessions: batch jobs, benchmarks). */
const PAGE = 100;

export function Timeline({ events, startedAt, focusSeq }: { events: readonly StoredEvent[]; startedAt: number; focusSeq?: number }) {
  const items = useMemo(() => buildItems(events), [events]);
  const list = useRef<HTMLOListElement>(null);
  const focusAt = focusSeq === undefined ? -1 : items.findIndex((i) => i.seqs.includes(focusSeq));
  const focused = focusAt >= 0 ? items[focusAt] : undefined;
  const [shown, setShown] = useState(PAGE);
  const limit = Math.max(shown, focusAt + PAGE / 2);
  const more = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const el = more.current;
    if (!el) return;
    const seen = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && setShown(limit + PAGE * 2), { rootMargin: '600px' });
    seen.observe(el);
    return () => seen.disconnect();
  }, [limit, items.length > limit]);
  useEffect(() => {
    if (focused) list.current?.querySelector(`[data-seq="${focused.key}"]`)?.scrollIntoView({ block: 'center' });
  }, [focused?.key]);
  const io = events.filter((e) => TERMINAL_IO.test(e.type)).length;
  return (
    <>
      <ol class="timeline" id="timeline" ref={list}>
        {items.slice(0, limit).map((i) => (
          <li key={i.key} data-seq={i.key} class={[i.cls, focused === i ? 'focus' : ''].filter(Boolean).join(' ')}>
            <span class="when" title={new Date(i.time).toISOString()}>
              {clock(i.time)}
              <br />+{duration(Math.max(0, i.time - startedAt))}
            </span>
            <span class={`outcome ${i.outcome}`}>{i.outcome}</span>
            <div class="what">{i.body()}</div>
          </li>
        ))}
      </ol>
      {items.length > limit && <button type="button" class="button" id="timeline-more" ref={more} onClick={() => setShown(limit + PAGE * 2)}>Show more ({items.length - limit} left)</button>}
      {io > 0 && <p class="muted small">{io} terminal input/output events are shown in the replay.</p>}
    </>
  );
}

function buildItems(events: readonly StoredEvent[]): Item[] {
  const answers = new Map<number, StoredEvent[]>();
  for (const e of events) {
    const q = e.data.query;
    if ((e.type === 'db.result' || e.type === 'db.error') && typeof q === 'number') {
      const list = answers.get(q);
      if (list) list.push(e);
      else answers.set(q, [e]);
    }
  }
  const queries = new Set(events.filter((e) => e.type === 'db.query').map((e) => e.seq));
  const items: Item[] = [];
  for (const e of events) {
    if (TERMINAL_IO.test(e.type)) continue;
    if ((e.type === 'db.result' || e.type === 'db.error') && queries.has(e.data.query as number)) continue;
    items.push(item(e, answers.get(e.seq) ?? []));
  }
  return items;
}

const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

function item(e: StoredEvent, answers: StoredEvent[]): Item {
  const d = e.data;
  const base = { key: e.seq, seqs: [e.seq, ...answers.map((a) => a.seq)], time: e.time };
  switch (e.type) {
    case 'db.query': {
      const error = answers.find((a) => a.type === 'db.error');
      const results = answers.filter((a) => a.type === 'db.result');
      const ms = [...results, ...(error ? [error] : [])].reduce((t, a) => t + (typeof a.data.durationMs === 'number' ? a.data.durationMs : 0), 0);
      return {
        ...base,
        outcome: error ? 'error' : answers.length === 0 ? 'running' : 'allowed',
        body: () => (
          <>
            <pre class="sql">{text(d.text)}</pre>
            {Array.isArray(d.params) && d.params.length > 0 && <div class="meta">params: <code>{d.params.map((p) => (p === null ? 'NULL' : text(p))).join(', ')}</code></div>}
            {results.map((r) => <Result data={r.data} />)}
            {error && <ErrorLine data={error.data} />}
            {answers.length > 0 && <div class="meta"><span>{duration(ms)}</span>{d.mode === 'extended' && <span>extended protocol{d.statement ? ` (${text(d.statement)})` : ''}</span>}</div>}
          </>
        ),
      };
    }
    case 'db.result':
      return { ...base, outcome: 'info', body: () => <Result data={d} /> };
    case 'db.error':
      return { ...base, outcome: 'error', body: () => <ErrorLine data={d} /> };
    case 'policy.deny':
      return {
        ...base, outcome: 'denied', cls: 'ev-denied',
        body: () => (
          <>
            <pre>{text(d.text)}</pre>
            <div class="meta"><span>rule <b>{text(d.rule)}</b></span>{d.reason ? <span>{text(d.reason)}</span> : null}{d.kind ? <span>{text(d.kind)}</span> : null}</div>
          </>
        ),
      };
    case 'review.requested':
      return {
        ...base, outcome: 'held', cls: 'ev-review',
        body: () => (
          <>
            <pre>{text(d.text)}</pre>
            <div class="meta"><span>held for review by rule <b>{text(d.rule)}</b></span>{Array.isArray(d.approvers) && <span>approvers: {d.approvers.join(', ')}</span>}</div>
          </>
        ),
      };
    case 'review.decided':
      return {
        ...base, outcome: d.approved ? 'approved' : 'denied', cls: 'ev-review',
        body: () => (
          <div>
            Review {d.approved ? 'approved' : 'denied'}{d.reviewer ? <> by <b>{text(d.reviewer)}</b></> : ' (no reviewer: expired or session ended)'}
            {d.reason ? <>: “{text(d.reason)}”</> : null}
          </div>
        ),
      };
    case 'ssh.exec':
    case 'ssh.shell.line':
      return {
        ...base, outcome: e.outcome ?? 'allowed', cls: e.outcome === 'denied' ? 'ev-denied' : undefined,
        body: () => <pre>{e.type === 'ssh.exec' ? '$ ' : '❯ '}{text(d.command ?? d.line)}</pre>,
      };
    case 'ssh.startup_file':
      return {
        ...base, outcome: 'startup', cls: 'ev-denied',
        body: () => <div><b>Start-up file written</b> ({text(d.op)} via {text(d.via)}): <code>{text(d.path)}</code> runs at the next login or grants access</div>,
      };
    case 'ssh.exit':
      return {
        ...base, outcome: 'info',
        body: () => (
          <div>
            channel {text(d.channel)} {d.code !== undefined ? <>exited with code <b>{text(d.code)}</b></> : d.signal ? <>killed by {text(d.signal)}</> : <>closed by {text(d.closedBy)}</>}
            {typeof d.bytesOut === 'number' && <span class="muted"> · out {bytes(d.bytesOut)}{typeof d.bytesIn === 'number' ? ` · in ${bytes(d.bytesIn)}` : ''}</span>}
          </div>
        ),
      };
    case 'session.start':
      return { ...base, outcome: 'info', body: () => <div>Session started · {text(d.subject)} via {text(d.authMethod)} from {text(d.clientAddress)}{d.application ? ` · ${text(d.application)}` : ''}</div> };
    case 'session.end':
      return { ...base, outcome: 'info', body: () => <div>Session ended ({text(d.reason)}) · in {bytes(Number(d.bytesIn) || 0)} · out {bytes(Number(d.bytesOut) || 0)}</div> };
    default:
      return {
        ...base, outcome: e.outcome ?? 'info', cls: e.outcome === 'denied' ? 'ev-denied' : undefined,
        body: () => <div><span class="type">{e.type}</span> <code class="muted">{compact(d)}</code></div>,
      };
  }
}

function compact(d: Readonly<Record<string, unknown>>): string {
  const s = JSON.stringify(d);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

function Result({ data }: { data: Readonly<Record<string, unknown>> }) {
  if (data.skipped) return <div class="meta">skipped (an earlier statement in the batch failed)</div>;
  const columns = Array.isArray(data.columns) ? (data.columns as string[]) : [];
  const sample = Array.isArray(data.sample) ? (data.sample as (string | null)[][]) : [];
  const rows = typeof data.rows === 'number' ? data.rows : sample.length;
  return (
    <>
      {columns.length > 0 && sample.length > 0 && (
        <div class="result">
          <table>
            <thead><tr>{columns.map((c) => <th>{c}</th>)}</tr></thead>
            <tbody>
              {sample.map((r) => <tr>{r.map((v) => (v === null ? <td class="null">NULL</td> : <td title={v.length > 60 ? v : undefined}>{v}</td>))}</tr>)}
            </tbody>
          </table>
        </div>
      )}
      <div class="meta">
        <span><b>{text(data.tag) || 'done'}</b></span>
        <span>{rows} row{rows === 1 ? '' : 's'}{sample.length < rows && sample.length > 0 ? ` (first ${sample.length} recorded)` : ''}</span>
        {data.truncated ? <span>result sample truncated</span> : null}
        {typeof data.copyBytes === 'number' && <span>COPY {bytes(data.copyBytes)}</span>}
      </div>
    </>
  );
}

function ErrorLine({ data }: { data: Readonly<Record<string, unknown>> }) {
  return (
    <div class="error">
      {text(data.severity) || 'ERROR'}{data.code ? ` ${text(data.code)}` : ''}: {text(data.message)}
      {data.detail ? <div class="muted">{text(data.detail)}</div> : null}
    </div>
  );
}
