import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { parseInstant } from '../core/duration.ts';
import { terminalSafe } from '../core/terminal-filter.ts';
import { OUTCOMES, type SessionRecord, type StoredEvent } from '../store/types.ts';
import { choiceFlag, intFlag, parse, str, type Io } from './args.ts';
import { auditLocal, withLocalStore } from './local.ts';
import { holdCommand } from './hold.ts';
import { killCommand } from './kill.ts';

export const HELP = `airlock sessions list [--user U] [--connection C] [--search TEXT] [--outcome allowed|denied|reviewed|error] [--since 1h] [--limit N] [--json]
airlock sessions show ID [--json]
airlock sessions hold|unhold ID     (legal hold: exempt from retention)
airlock sessions kill ID [--reason TEXT]   end a live session`;

export async function sessionsCommand(argv: string[], io: Io): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'hold' || sub === 'unhold') return holdCommand(argv, io);
  if (sub === 'kill') return killCommand(rest, io);
  const { values, positionals } = parse(rest, {
    user: { type: 'string' }, connection: { type: 'string' }, search: { type: 'string' }, since: { type: 'string' },
    outcome: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' }, group: { type: 'string' }, protocol: { type: 'string' },
  });
  const json = values.json === true;
  if (sub !== 'list' && sub !== 'show') {
    io.err(HELP);
    return sub ? 2 : 0;
  }
  // Flags are checked before the store is opened, as the API checks them: a typo is a usage error, never ignored.
  const filter = {
    user: str(values.user), connection: str(values.connection), group: str(values.group), protocol: str(values.protocol),
    since: values.since === undefined ? undefined : parseInstant(String(values.since), Date.now(), '--since'),
    limit: intFlag(values.limit, '--limit', 1, 100_000),
    outcome: choiceFlag(values.outcome, '--outcome', OUTCOMES),
  };
  return withLocalStore(str(values.config), async (store) => {
    if (sub === 'list') {
      const text = str(values.search);
      if (text !== undefined) {
        if (!text.trim()) throw new AirlockError(ErrorCodes.usage, '--search needs some text');
        const hits = await store.search({ ...filter, text });
        if (json) io.out(JSON.stringify(hits, null, 2));
        else {
          io.out(['SESSION', 'SEQ', 'TIME', 'USER', 'CONNECTION', 'MATCH'].join('\t'));
          for (const h of hits) io.out([h.sessionId, h.seq, iso(h.time), h.subject, h.connection, h.snippet.replace(/\s+/g, ' ')].map((v) => terminalSafe(String(v))).join('\t'));
        }
        return 0;
      }
      const sessions = await store.listSessions(filter);
      if (json) io.out(JSON.stringify(sessions, null, 2));
      else {
        io.out(['ID', 'USER', 'CONNECTION', 'PROTOCOL', 'STARTED', 'DURATION', 'EVENTS', 'END'].join('\t'));
        for (const s of sessions) io.out(sessionLine(s));
      }
      return 0;
    }
    if (sub === 'show') {
      const id = positionals[0];
      if (!id) throw new AirlockError(ErrorCodes.usage, `session id required\n${HELP}`);
      const session = await store.getSession(id);
      if (!session) throw new AirlockError(ErrorCodes.notFound, `no session ${id}`);
      await auditLocal(store, 'session.view', id);
      if (json) {
        const events: StoredEvent[] = [];
        for await (const e of store.readEvents(id)) events.push(e);
        io.out(JSON.stringify({ session, events }, null, 2));
        return 0;
      }
      // Recorded text (statements, commands, output) is shown with its control characters visible, never obeyed.
      const out = (line: string) => io.out(terminalSafe(line));
      out(`session    ${session.id}`);
      out(`identity   ${session.subject} (${session.kind}, groups: ${session.groups.join(', ') || 'none'}, via ${session.authMethod})`);
      out(`connection ${session.connection} (${session.protocol}) from ${session.clientAddress}${session.application ? `, application ${session.application}` : ''}`);
      out(`started    ${iso(session.startedAt)}`);
      out(`ended      ${session.endedAt ? `${iso(session.endedAt)} (${session.endReason})` : 'still open'}`);
      out(`bytes      ${session.bytesIn} in, ${session.bytesOut} out; ${session.eventCount} events`);
      out('');
      for await (const e of store.readEvents(id)) for (const line of describeEvent(e, session.startedAt)) out(line);
    }
    return 0;
  });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function sessionLine(s: SessionRecord): string {
  const dur = s.endedAt ? `${((s.endedAt - s.startedAt) / 1000).toFixed(1)}s` : 'open';
  return [s.id, s.subject, s.connection, s.protocol, iso(s.startedAt), dur, s.eventCount || '-', s.endReason ?? '-'].map((v) => terminalSafe(String(v))).join('\t');
}

/** Human lines for one event: statements, their results as a small table, errors and decisions. */
export function describeEvent(e: StoredEvent, start: number): string[] {
  const at = `+${((e.time - start) / 1000).toFixed(3)}s`.padStart(10);
  const d = e.data as Record<string, unknown>;
  switch (e.type) {
    case 'db.query': {
      const params = Array.isArray(d.params) ? `  params: ${JSON.stringify(d.params)}` : '';
      return [`${at} #${e.seq} ${String(d.text)}${params}`];
    }
    case 'db.result': {
      if (d.skipped) return [`${at}   (skipped after an earlier error)`];
      const lines = [`${at}   → ${String(d.tag) || '(empty)'}${d.rows != null ? `, ${d.rows} rows` : ''} in ${d.durationMs} ms${d.truncated ? ' (sample truncated)' : ''}`];
      if (Array.isArray(d.columns) && Array.isArray(d.sample)) lines.push(...table(d.columns as string[], d.sample as (string | null)[][]).map((l) => `${' '.repeat(13)}${l}`));
      return lines;
    }
    case 'db.error':
      return [`${at}   ✗ ${String(d.severity)} ${String(d.code)}: ${String(d.message)}`];
    case 'policy.deny':
      return [`${at} #${e.seq} DENIED by ${String(d.rule)}: ${String(d.text)}`];
    case 'ssh.startup_file':
      return [`${at} #${e.seq} STARTUP FILE WRITTEN (${String(d.op)} via ${String(d.via)}): ${String(d.path)}`];
    default:
      return [`${at} ${e.type} ${JSON.stringify(d)}`];
  }
}

export function table(columns: string[], rows: (string | null)[][]): string[] {
  const cells = [columns, ...rows.map((r) => r.map((v) => (v === null ? 'NULL' : v.replace(/\s+/g, ' '))))];
  const widths = columns.map((_, i) => Math.min(40, Math.max(...cells.map((r) => (r[i] ?? '').length))));
  const fmt = (r: string[]) => r.map((v, i) => (v.length > 40 ? `${v.slice(0, 39)}…` : v).padEnd(widths[i])).join(' | ');
  return [fmt(cells[0]), widths.map((w) => '-'.repeat(w)).join('-+-'), ...cells.slice(1).map(fmt)];
}
