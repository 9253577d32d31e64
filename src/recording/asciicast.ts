import type { SessionRecord, StoredEvent } from '../store/types.ts';

/**
 * asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a header line, then one JSON array per
 * event: [seconds since start, "o" | "i" | "r", data]. Built from an interactive session's recorded
 * terminal output (`*.output`), typed input (`*.input`, with `--input`) and window changes (`*.resize`).
 */
export async function* asciicastLines(session: SessionRecord, events: AsyncIterable<StoredEvent>, options: { input?: boolean } = {}): AsyncIterable<string> {
  let headerSent = false;
  const header = (cols: number, rows: number) => {
    headerSent = true;
    return JSON.stringify({
      version: 2, width: cols, height: rows, timestamp: Math.floor(session.startedAt / 1000),
      title: `${session.subject}@${session.connection} ${session.id}`, env: { TERM: 'xterm-256color' },
    });
  };
  const at = (e: StoredEvent) => Math.max(0, Math.round(e.time - session.startedAt) / 1000);
  for await (const e of events) {
    const d = e.data as Record<string, unknown>;
    if (e.type.endsWith('.shell.start')) {
      if (!headerSent) yield header(Number(d.cols) || 80, Number(d.rows) || 24);
      continue;
    }
    const isOutput = e.type.endsWith('.output');
    const isInput = e.type.endsWith('.input');
    if (!isOutput && !isInput && !e.type.endsWith('.resize')) continue;
    if (!headerSent) yield header(80, 24);
    if (e.type.endsWith('.resize')) {
      yield JSON.stringify([at(e), 'r', `${d.cols}x${d.rows}`]);
      continue;
    }
    if (isInput && !options.input) continue;
    const text = d.encoding === 'base64' ? Buffer.from(String(d.data ?? ''), 'base64').toString('utf8') : String(d.data ?? '');
    if (text) yield JSON.stringify([at(e), isOutput ? 'o' : 'i', text]);
  }
  if (!headerSent) yield header(80, 24);
}
