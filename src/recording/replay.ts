import type { SessionRecord, StoredEvent } from '../store/types.ts';
import { describeEvent } from '../cli/sessions.ts';

/**
 * Terminal playback of a recorded session: a header, then every event as the recording shows it
 * (statements, their stored — already masked — results, errors, denials; raw output bytes of
 * interactive protocols), with the original timing between events divided by the speed.
 *
 * Pure of I/O: output, waiting and key presses are injected, so the timing and step logic is tested
 * with a fake clock and the CLI wires in stdout, setTimeout and stdin.
 */

/** Pauses longer than this (ms, recorded time) are shortened to it and marked "(… 37.2 s idle)". */
export const MAX_GAP_MS = 5000;

export type StepKey = 'next' | 'quit';

export interface ReplayOutput {
  /** One line of text (the sink adds the newline). */
  line(text: string): void;
  /** Bytes an interactive session sent to its terminal, written as they are. */
  raw(bytes: Buffer, stream: 'stdout' | 'stderr'): void;
}

export interface PlayOptions {
  /** Divides the recorded time between events; 0 plays without waiting. Default 1. */
  readonly speed?: number;
  /** Step mode: called before each shown event; resolves once the viewer asks for it (or quits). */
  readonly step?: () => Promise<StepKey>;
  /** Waits `ms` of wall-clock time. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly maxGapMs?: number;
}

export interface PlayResult {
  /** Events read from the recording. */
  readonly events: number;
  /** Events shown (session.start is the header, terminal input is not shown). */
  readonly shown: number;
  /** Wall-clock milliseconds spent waiting for timing. */
  readonly waitedMs: number;
  /** True when the viewer quit before the end. */
  readonly quit: boolean;
}

export interface Delay {
  /** Wall-clock wait. */
  readonly waitMs: number;
  /** Set when the recorded pause was longer than the cap: its real length (ms). */
  readonly idleMs?: number;
}

/** Wall-clock wait for a recorded gap: gap / speed, with gaps over the cap shortened to the cap. */
export function plannedDelay(gapMs: number, speed: number, maxGapMs = MAX_GAP_MS): Delay {
  const gap = Math.max(0, gapMs);
  const idle = gap > maxGapMs;
  const effective = idle ? maxGapMs : gap;
  const waitMs = speed > 0 && Number.isFinite(speed) ? effective / speed : 0;
  return idle ? { waitMs, idleMs: gap } : { waitMs };
}

export function idleMarker(idleMs: number): string {
  return `(… ${(idleMs / 1000).toFixed(1)} s idle)`;
}

/** Lines naming who, what connection and when, shown before the events. */
export function replayHeader(s: SessionRecord): string[] {
  const end = s.endedAt ? `${iso(s.endedAt)} (${((s.endedAt - s.startedAt) / 1000).toFixed(1)} s, ${s.endReason ?? 'ended'})` : 'still open';
  return [
    `session    ${s.id}`,
    `who        ${s.subject} (${s.kind}, groups: ${s.groups.join(', ') || 'none'}, via ${s.authMethod})`,
    `connection ${s.connection} (${s.protocol}) from ${s.clientAddress}${s.application ? `, application ${s.application}` : ''}`,
    `when       ${iso(s.startedAt)} → ${end}`,
  ];
}

/** What one event shows: lines of text, raw terminal bytes, or nothing. */
export type Rendered = { readonly lines: string[] } | { readonly raw: Buffer; readonly stream: 'stdout' | 'stderr' } | undefined;

/**
 * Interactive protocols record terminal output as `<proto>.output` events: `{ data, encoding?, stream? }`
 * where `encoding` is 'base64' (arbitrary bytes) or 'utf8' (the default when absent) and `stream` is
 * 'stdout' (default) or 'stderr'. Terminal input (`*.input`) and window sizes (`*.resize`) are not shown:
 * the echo is part of the output.
 */
export function renderEvent(e: StoredEvent, startedAt: number): Rendered {
  const d = e.data as Record<string, unknown>;
  if (e.type.endsWith('.output')) {
    const data = typeof d.data === 'string' ? d.data : '';
    const raw = d.encoding === 'base64' ? Buffer.from(data, 'base64') : Buffer.from(data, 'utf8');
    return { raw, stream: d.stream === 'stderr' ? 'stderr' : 'stdout' };
  }
  if (e.type.endsWith('.input') || e.type.endsWith('.resize') || e.type === 'session.start') return undefined;
  const at = `+${((e.time - startedAt) / 1000).toFixed(3)}s`.padStart(10);
  switch (e.type) {
    case 'session.end':
      return { lines: [`${at} session ended (${String(d.reason ?? 'unknown')})`] };
    case 'session.target_failed':
      return { lines: [`${at} ✗ target connection failed: ${String(d.message ?? '')}`] };
    case 'review.requested':
      return { lines: [`${at} #${e.seq} REVIEW requested under ${String(d.rule)}${Array.isArray(d.approvers) && d.approvers.length ? ` (approvers: ${d.approvers.join(', ')})` : ''}: ${String(d.text)}`] };
    case 'review.decided':
      return { lines: [`${at}   review ${d.approved ? 'approved' : 'denied'}${d.reviewer ? ` by ${String(d.reviewer)}` : ''}${d.reason ? `: ${String(d.reason)}` : ''}`] };
    case 'db.notice':
      return { lines: [`${at}   ${String(d.severity ?? 'NOTICE')} ${d.code ? `${String(d.code)}: ` : ''}${String(d.message ?? '')}`] };
    case 'db.notification':
      return { lines: [`${at}   NOTIFY ${String(d.channel)}: ${String(d.payload ?? '')}`] };
    case 'replay.source':
      return { lines: [`${at} re-execution of session ${String(d.sessionId)} (${String(d.connection)}, ${String(d.subject)})`] };
    default:
      return { lines: describeEvent(e, startedAt) };
  }
}

/**
 * Plays `events` (streamed; nothing is held but the current event). Timing is measured between shown
 * events. In step mode there is no timed waiting: each shown event waits for `step()`.
 */
export async function playSession(
  session: SessionRecord,
  events: AsyncIterable<StoredEvent>,
  out: ReplayOutput,
  options: PlayOptions = {},
): Promise<PlayResult> {
  const speed = options.speed ?? 1;
  const sleep = options.sleep ?? defaultSleep;
  const maxGap = options.maxGapMs ?? MAX_GAP_MS;
  let count = 0;
  let shown = 0;
  let waited = 0;
  let last = session.startedAt;
  let atLineStart = true;
  let wroteRaw = false;
  const line = (text: string) => {
    if (!atLineStart) out.raw(Buffer.from('\r\n'), 'stdout');
    atLineStart = true;
    out.line(text);
  };
  for (const l of replayHeader(session)) line(l);
  line('');
  let quit = false;
  for await (const e of events) {
    count++;
    const r = renderEvent(e, session.startedAt);
    if (!r) continue;
    const delay = plannedDelay(e.time - last, speed, maxGap);
    last = e.time;
    if (delay.idleMs !== undefined) line(`           ${idleMarker(delay.idleMs)}`);
    if (options.step) {
      if ((await options.step()) === 'quit') {
        quit = true;
        break;
      }
    } else if (delay.waitMs > 0) {
      await sleep(delay.waitMs);
      waited += delay.waitMs;
    }
    shown++;
    if ('raw' in r) {
      if (r.raw.length) {
        out.raw(r.raw, r.stream);
        wroteRaw = true;
        atLineStart = r.raw[r.raw.length - 1] === 0x0a;
      }
    } else {
      for (const l of r.lines) line(l);
    }
  }
  // Recorded terminal output may leave colours or a hidden cursor behind.
  if (wroteRaw) out.raw(Buffer.from('\x1b[0m\x1b[?25h'), 'stdout');
  line(quit ? '— replay stopped —' : `— end of recording (${count} events) —`);
  return { events: count, shown, waitedMs: waited, quit };
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
