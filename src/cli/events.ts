import { parseInstant } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { streamEvents, type ExportFormat } from '../recording/events-export.ts';
import { parse, stdio, str, type Io } from './args.ts';
import { withLocalStore } from './local.ts';

export const HELP = `airlock events [--since 1h|ISO] [--until 1h|ISO] [--format jsonl|ocsf] [--follow]
    every session's events in recording order, one JSON object per line, for a SIEM:
    jsonl = Airlock events with their session's identity fields; ocsf = OCSF 1.3 events.
    --since defaults to the beginning (with --follow: now); --follow polls every second until Ctrl-C.`;

export interface EventsDeps {
  /** Stops --follow (default: SIGINT / SIGTERM). */
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

export async function eventsCommand(argv: string[], io: Io, deps: EventsDeps = {}): Promise<number> {
  const { values, positionals } = parse(argv, {
    since: { type: 'string' }, until: { type: 'string' }, format: { type: 'string' }, follow: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (positionals.length) throw new AirlockError(ErrorCodes.usage, `unexpected argument ${positionals[0]}\n${HELP}`);
  const format = (str(values.format) ?? 'jsonl') as ExportFormat;
  if (format !== 'jsonl' && format !== 'ocsf') throw new AirlockError(ErrorCodes.usage, `--format is jsonl or ocsf, not '${format}'`);
  const now = deps.now ?? Date.now;
  const follow = values.follow === true;
  const since = values.since ? parseInstant(String(values.since), now(), '--since') : follow ? now() : 0;
  const until = values.until ? parseInstant(String(values.until), now(), '--until') : undefined;

  const controller = new AbortController();
  const stop = () => controller.abort();
  deps.signal?.addEventListener('abort', stop, { once: true });
  if (follow && !deps.signal) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  const write = io === stdio ? stdoutWriter(stop) : async (line: string) => io.out(line);
  try {
    return await withLocalStore(str(values.config), async (store) => {
      for await (const line of streamEvents(store, { since, until, format, follow, signal: controller.signal, now })) {
        await write(line);
        if (controller.signal.aborted) break;
      }
      return 0;
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    deps.signal?.removeEventListener('abort', stop);
  }
}

/** Writes lines to stdout respecting backpressure; a closed pipe (| head) stops the export. */
function stdoutWriter(onClosed: () => void): (line: string) => Promise<void> {
  let closed = false;
  let waiting: (() => void) | undefined;
  const release = () => {
    const w = waiting;
    waiting = undefined;
    w?.();
  };
  process.stdout.on('drain', release);
  process.stdout.once('error', () => {
    closed = true;
    onClosed();
    release();
  });
  return (line) =>
    new Promise<void>((resolve) => {
      if (closed || process.stdout.write(`${line}\n`)) return resolve();
      waiting = resolve;
    });
}
