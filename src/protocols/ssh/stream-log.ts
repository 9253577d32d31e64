import { isUtf8 } from 'node:buffer';
import type { ValueMasker } from '../../policy/connection-policies.ts';
import type { SessionRecorder } from '../../recording/recorder.ts';

export type StreamName = 'stdout' | 'stderr' | 'stdin';

export interface StreamLogOptions {
  readonly rec: SessionRecorder;
  readonly masker: ValueMasker;
  readonly maskCounts: Record<string, number>;
  /** The channel's number within the SSH connection, so events of parallel channels can be told apart. */
  readonly channel: number;
  /** Data bytes recorded per stream; past it only byte counts are kept. Undefined: everything. */
  readonly limit?: number;
  /** Full-text index the recorded text (config `recording.indexOutput`); off, output is replayable, not searchable. */
  readonly indexed?: boolean;
  readonly intervalMs?: number;
  readonly maxChunk?: number;
}

interface Pending {
  parts: Buffer[];
  size: number;
  /** Incomplete UTF-8 sequence held back from the previous event. */
  carry: Buffer | undefined;
  /** Order in which the stream's pending data started, so flushes keep the interleaving. */
  since: number;
  hidden: number;
  recorded: number;
  total: number;
  truncated: boolean;
}

/**
 * Records a channel's streams as `ssh.output` / `ssh.input` events, coalesced to about one event per
 * 50 ms or 16 KiB per stream so a shell replays like a screen recording without an event per keystroke.
 * Text is masked with the stored masker; bytes that are not UTF-8 are kept as base64.
 */
export class StreamLog {
  private readonly streams = new Map<StreamName, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private order = 0;
  private readonly intervalMs: number;
  private readonly maxChunk: number;

  constructor(private readonly o: StreamLogOptions) {
    this.intervalMs = o.intervalMs ?? 50;
    this.maxChunk = o.maxChunk ?? 16 * 1024;
  }

  /** Data seen on a stream. `hidden` input (typed at a password prompt) is counted, never stored. */
  add(stream: StreamName, data: Buffer, hidden = false): void {
    const p = this.pending(stream);
    p.total += data.length;
    if (data.length === 0) return;
    if (hidden) {
      if (p.size === 0 && p.hidden === 0) p.since = this.order++;
      p.hidden += data.length;
    } else {
      if (this.o.limit !== undefined && p.recorded + p.size >= this.o.limit) {
        p.truncated = true;
        return;
      }
      const room = this.o.limit === undefined ? data.length : Math.min(data.length, this.o.limit - p.recorded - p.size);
      if (room < data.length) p.truncated = true;
      if (p.size === 0 && p.hidden === 0) p.since = this.order++;
      // Copy: the caller's buffer may be reused, and a slice would pin a large chunk.
      p.parts.push(Buffer.from(data.subarray(0, room)));
      p.size += room;
    }
    if (p.size >= this.maxChunk) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  totals(): Record<StreamName, number> {
    return { stdout: this.streams.get('stdout')?.total ?? 0, stderr: this.streams.get('stderr')?.total ?? 0, stdin: this.streams.get('stdin')?.total ?? 0 };
  }

  /** Streams whose data was cut at the limit. */
  truncated(): StreamName[] {
    return [...this.streams].filter(([, p]) => p.truncated).map(([n]) => n);
  }

  /** Writes every pending stream, oldest first. `final` also writes held-back partial UTF-8. */
  flush(final = false): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const ready = [...this.streams].filter(([, p]) => p.size > 0 || p.hidden > 0 || (final && p.carry)).sort((a, b) => a[1].since - b[1].since);
    for (const [name, p] of ready) this.emit(name, p, final);
  }

  private pending(stream: StreamName): Pending {
    let p = this.streams.get(stream);
    if (!p) {
      p = { parts: [], size: 0, carry: undefined, since: 0, hidden: 0, recorded: 0, total: 0, truncated: false };
      this.streams.set(stream, p);
    }
    return p;
  }

  private emit(name: StreamName, p: Pending, final: boolean): void {
    const parts = p.carry ? [p.carry, ...p.parts] : p.parts;
    let bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    p.recorded += p.size;
    p.parts = [];
    p.size = 0;
    p.carry = undefined;
    if (!final) {
      const cut = incompleteTail(bytes);
      if (cut < bytes.length) {
        p.carry = Buffer.from(bytes.subarray(cut));
        bytes = bytes.subarray(0, cut);
      }
    }
    const type = name === 'stdin' ? 'ssh.input' : 'ssh.output';
    const base: Record<string, unknown> = name === 'stdin' ? { channel: this.o.channel } : { channel: this.o.channel, stream: name };
    if (p.hidden > 0) {
      this.o.rec.record(type, { ...base, data: '', hidden: p.hidden });
      p.hidden = 0;
    }
    if (bytes.length === 0) return;
    if (isUtf8(bytes)) {
      const text = this.o.masker.maskText(bytes.toString('utf8'), this.o.maskCounts);
      this.o.rec.record(type, { ...base, data: text }, this.o.indexed ? { searchText: text } : {});
    } else {
      this.o.rec.record(type, { ...base, data: bytes.toString('base64'), encoding: 'base64' });
    }
  }
}

/** Index where a trailing, incomplete UTF-8 sequence starts (`buf.length` when there is none). */
export function incompleteTail(buf: Buffer): number {
  for (let i = buf.length - 1; i >= 0 && i >= buf.length - 4; i--) {
    const b = buf[i];
    if ((b & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    const need = b >= 0xf0 && b <= 0xf7 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return buf.length - i < need ? i : buf.length;
  }
  return buf.length;
}
