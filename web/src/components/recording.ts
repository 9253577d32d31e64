import type { StoredEvent } from '../types.ts';

/**
 * What the replay plays, taken from a session's events (kept apart from the player so the session page can
 * tell whether there is anything to replay without loading the terminal).
 */
export interface Frame {
  /** ms since the session started */
  readonly t: number;
  readonly data?: string | Uint8Array;
  readonly size?: { cols: number; rows: number };
}

export interface Mark {
  readonly t: number;
  readonly seq: number;
  readonly text: string;
  readonly outcome: string;
}

export interface Recording {
  readonly frames: Frame[];
  readonly marks: Mark[];
  readonly cols: number;
  readonly rows: number;
  readonly end: number;
}

const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** The interactive channel's frames: the first shell's channel, else the first channel that printed anything. */
export function recordingOf(events: readonly StoredEvent[], startedAt: number, endedAt: number | null): Recording | undefined {
  const shell = events.find((e) => e.type.endsWith('.shell.start'));
  const channel = shell?.data.channel ?? events.find((e) => e.type.endsWith('.output'))?.data.channel;
  if (channel === undefined) return undefined;
  const at = (e: StoredEvent) => Math.max(0, e.time - startedAt);
  const frames: Frame[] = [];
  const marks: Mark[] = [];
  for (const e of events) {
    const d = e.data;
    if (d.channel !== channel && !e.type.startsWith('policy.') && !e.type.startsWith('review.')) continue;
    if (e.type.endsWith('.output') && typeof d.data === 'string' && d.data) {
      frames.push({ t: at(e), data: d.encoding === 'base64' ? decode(d.data) : d.data });
    } else if (e.type.endsWith('.resize')) {
      frames.push({ t: at(e), size: { cols: Number(d.cols) || 80, rows: Number(d.rows) || 24 } });
    } else if (e.type.endsWith('.shell.line') || e.type.endsWith('.exec') || e.type === 'policy.deny' || e.type === 'review.requested') {
      const text = String(d.line ?? d.command ?? d.text ?? '');
      // A denied or held line is recorded twice (the line, then the denial): keep one mark.
      if (text && marks.at(-1)?.text !== text) marks.push({ t: at(e), seq: e.seq, text, outcome: e.outcome ?? 'allowed' });
      else if (marks.at(-1)?.text === text && e.outcome && e.outcome !== 'allowed') marks[marks.length - 1] = { ...marks[marks.length - 1], outcome: e.outcome };
    }
  }
  if (!frames.some((f) => f.data)) return undefined;
  const last = Math.max(frames.at(-1)!.t, marks.at(-1)?.t ?? 0);
  return {
    frames, marks, cols: Number(shell?.data.cols) || 80, rows: Number(shell?.data.rows) || 24,
    end: endedAt ? Math.max(last, Math.min(endedAt - startedAt, last + 1000)) : last,
  };
}
