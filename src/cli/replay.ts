import { userInfo } from 'node:os';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config/load.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import type { Identity } from '../core/identity.ts';
import { silentLogger } from '../core/logger.ts';
import { KeyRing } from '../recording/keys.ts';
import { Recorder } from '../recording/recorder.ts';
import { reexecute, sandboxConnection, type ReexecLine } from '../recording/reexec.ts';
import { playSession, type StepKey } from '../recording/replay.ts';
import { asciicastLines } from '../recording/asciicast.ts';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { buildConnectionPolicies } from '../server/policies.ts';
import { auditLocal, openExistingStore } from './local.ts';
import { parse, str, type Io } from './args.ts';
import { TerminalFilter, terminalSafe } from '../core/terminal-filter.ts';

export const HELP = `airlock replay ID [--speed N | --no-wait] [--step]
    plays a recorded session in the terminal with its original timing (÷ N; pauses over 5 s are shortened)
    --step: one event per key (space/enter = next, q = quit; without a terminal, one line of input per event)
airlock replay ID --asciicast FILE [--input]
    writes an interactive (SSH) session as an asciicast v2 recording for asciinema players
airlock replay ID --exec --to CONNECTION [--force] [--as NAME]
    re-runs the session's statements against another connection (a sandbox) and compares the outcomes;
    the run is itself recorded (as NAME, default the OS user). --force allows the session's own connection.`;

export interface ReplayDeps {
  /** Raw terminal bytes of interactive sessions (default: process.stdout / process.stderr). */
  readonly raw?: (bytes: Buffer, stream: 'stdout' | 'stderr') => void;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Step-mode key source (default: stdin). */
  readonly keys?: () => Promise<StepKey>;
}

export async function replayCommand(argv: string[], io: Io, deps: ReplayDeps = {}): Promise<number> {
  const { values, positionals } = parse(argv, {
    speed: { type: 'string' }, 'no-wait': { type: 'boolean' }, step: { type: 'boolean' },
    exec: { type: 'boolean' }, to: { type: 'string' }, force: { type: 'boolean' }, as: { type: 'string' },
    asciicast: { type: 'string' }, input: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  const id = positionals[0];
  if (!id || positionals.length > 1) throw new AirlockError(ErrorCodes.usage, `one session id required\n${HELP}`);
  const to = str(values.to);
  if (values.exec && !to) throw new AirlockError(ErrorCodes.usage, `--exec needs --to CONNECTION\n${HELP}`);
  if (!values.exec && (to || values.force || values.as)) throw new AirlockError(ErrorCodes.usage, `--to, --force and --as go with --exec\n${HELP}`);
  const speed = values['no-wait'] ? 0 : parseSpeed(str(values.speed));

  const loaded = loadConfig(str(values.config), undefined, []);
  const store = openExistingStore(loaded);
  try {
    const session = await store.getSession(id);
    if (!session) throw new AirlockError(ErrorCodes.notFound, `no session ${id}`);
    await auditLocal(store, values.exec ? 'session.reexec' : 'session.replay', id, values.exec ? { to } : {});

    if (values.exec) {
      // Secrets are read for the sandbox it runs against and the session's own connection (compared with it), no other.
      const config = loadConfig(str(values.config), undefined, [to!, session.connection]).config;
      sandboxConnection(config, session, to!, values.force === true);
      const operator = str(values.as) ?? osUser();
      const identity: Identity = {
        subject: operator,
        groups: [],
        kind: 'user',
        // Not a gateway credential: the operator ran the CLI on the gateway host with its configuration.
        authMethod: 'local',
        credentialId: `os-user:${osUser()}`,
      };
      const policies = await buildConnectionPolicies(config);
      const recorder = new Recorder(store, KeyRing.load(loaded.dataDir), silentLogger);
      const controller = new AbortController();
      const interrupt = () => controller.abort();
      process.once('SIGINT', interrupt);
      try {
        const summary = await reexecute({
          store, recorder, config, source: session, to: to!, identity, policy: policies.get(to!), force: values.force === true,
          signal: controller.signal,
          onStart: (rid, n) => {
            io.out(`re-running ${n} statement${n === 1 ? '' : 's'} of session ${session.id} (${session.subject} on ${session.connection}, ${new Date(session.startedAt).toISOString()})`);
            io.out(`against ${to} as ${operator}; this run is recorded as session ${rid}`);
            io.out('');
          },
          onLine: (l) => io.out(reportLine(l)),
        });
        const c = summary.counts;
        const parts = [
          `${c.same} same`,
          c.rows_differ && `${c.rows_differ} rows differ`,
          c.result_differs && `${c.result_differs} results differ`,
          c.error_now && `${c.error_now} error now`,
          c.error_differs && `${c.error_differs} error differs`,
          c.fixed && `${c.fixed} was error, now ok`,
          c.denied_now && `${c.denied_now} denied now`,
          c.unverified && `${c.unverified} without recorded outcome`,
          c.skipped && `${c.skipped} skipped`,
        ].filter(Boolean);
        io.out('');
        io.out(`summary: ${parts.join(', ')} — ${summary.allSame ? 'every outcome as recorded' : 'outcomes differ'}; this run is session ${summary.sessionId} (sealed)`);
        return summary.allSame ? 0 : 1;
      } finally {
        process.off('SIGINT', interrupt);
        await recorder.close();
      }
    }

    const cast = str(values.asciicast);
    if (cast) {
      const out = createWriteStream(cast);
      for await (const line of asciicastLines(session, store.readEvents(session.id), { input: values.input === true })) {
        if (!out.write(`${line}\n`)) await once(out, 'drain');
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      io.out(`wrote ${cast} (asciicast v2)`);
      return 0;
    }

    const write = deps.raw ?? ((b: Buffer, s: 'stdout' | 'stderr') => void (s === 'stderr' ? process.stderr : process.stdout).write(b));
    // Recorded output must not drive the auditor's terminal (clear it, forge lines, write the clipboard).
    const filters = { stdout: new TerminalFilter(), stderr: new TerminalFilter() };
    const raw = (b: Buffer, s: 'stdout' | 'stderr') => {
      const text = filters[s].push(b);
      if (text) write(Buffer.from(text), s);
    };
    const keys = values.step ? (deps.keys ? { next: deps.keys, close: () => {} } : stdinKeys()) : undefined;
    if (keys) io.err('step mode: space or enter shows the next event, q quits');
    try {
      await playSession(session, store.readEvents(session.id), { line: (l) => io.out(terminalSafe(l)), raw }, {
        speed, step: keys?.next, sleep: deps.sleep,
      });
      for (const s of ['stdout', 'stderr'] as const) {
        const rest = filters[s].end();
        if (rest) write(Buffer.from(rest), s);
      }
      return 0;
    } finally {
      keys?.close();
    }
  } finally {
    await store.close();
  }
}

function parseSpeed(text: string | undefined): number {
  if (text === undefined) return 1;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0 || text.trim() === '') throw new AirlockError(ErrorCodes.usage, `--speed takes a number ≥ 0 (0 = no waiting), not '${text}'`);
  return n;
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

function reportLine(l: ReexecLine): string {
  const text = l.text.replace(/\s+/g, ' ').trim();
  const shown = terminalSafe(text.length > 100 ? `${text.slice(0, 99)}…` : text);
  const notes = l.notes.length ? ` [${l.notes.join('; ')}]` : '';
  return `#${String(l.seq).padEnd(5)} ${l.verdict.text}${notes}\n       ${shown}`;
}

/**
 * Key presses for step mode. A terminal is read raw (space/enter = next, q/Ctrl-C/Esc = quit); anything
 * else (a pipe) gives one step per line, 'q' quits, end of input quits.
 */
function stdinKeys(): { next: () => Promise<StepKey>; close: () => void } {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdin.resume();
    let waiting: ((k: StepKey) => void) | undefined;
    const early: StepKey[] = [];
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        const key: StepKey | undefined = ch === ' ' || ch === '\r' || ch === '\n' ? 'next' : /[qQ\x03\x04\x1b]/.test(ch) ? 'quit' : undefined;
        if (!key) continue;
        if (waiting) {
          const w = waiting;
          waiting = undefined;
          w(key);
        } else early.push(key);
      }
    };
    stdin.on('data', onData);
    return {
      next: () => (early.length ? Promise.resolve(early.shift()!) : new Promise<StepKey>((resolve) => (waiting = resolve))),
      close: () => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
      },
    };
  }
  const rl = createInterface({ input: stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return {
    next: async () => {
      const r = await lines.next();
      return r.done || /^\s*q/i.test(r.value) ? 'quit' : 'next';
    },
    close: () => rl.close(),
  };
}
