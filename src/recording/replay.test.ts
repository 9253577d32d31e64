import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { replayCommand } from '../cli/replay.ts';
import { SqliteStore } from '../store/sqlite/sqlite-store.ts';
import type { SessionRecord, StoredEvent } from '../store/types.ts';
import { MAX_GAP_MS, idleMarker, playSession, plannedDelay, renderEvent, type StepKey } from './replay.ts';

const T0 = 1_700_000_000_000;

function session(over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'ses_test', protocol: 'postgres', connection: 'pg-main', subject: 'alice', groups: ['dba'], kind: 'user', authMethod: 'token',
    credentialId: 'tok_1', clientAddress: '127.0.0.1:5555', application: 'psql', startedAt: T0, endedAt: T0 + 60_000,
    endReason: 'client_terminated', bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false, ...over,
  };
}

function ev(seq: number, offsetMs: number, type: string, data: Record<string, unknown>, sessionId = 'ses_test'): StoredEvent {
  return { sessionId, seq, time: T0 + offsetMs, type, data, hash: `h${seq}` };
}

/** A small psql session: a statement, its result, an error, a denial, a long pause, the end. */
function pgEvents(): StoredEvent[] {
  return [
    ev(0, 0, 'session.start', { protocol: 'postgres' }),
    ev(1, 1000, 'db.query', { text: 'select id, name from items', mode: 'simple' }),
    ev(2, 1250, 'db.result', { query: 1, tag: 'SELECT 2', rows: 2, columns: ['id', 'name'], sample: [['1', 'one'], ['2', 'two']], durationMs: 250 }),
    ev(3, 3250, 'db.query', { text: 'select * from nope', mode: 'simple' }),
    ev(4, 3260, 'db.error', { query: 3, code: '42P01', severity: 'ERROR', message: 'relation "nope" does not exist' }),
    ev(5, 40_460, 'policy.deny', { text: 'drop table items', rule: 'no-drops', reason: 'dropping tables is not allowed' }),
    ev(6, 41_000, 'session.end', { reason: 'client_terminated' }),
  ];
}

async function* stream(events: StoredEvent[], pulled?: { n: number }): AsyncIterable<StoredEvent> {
  for (const e of events) {
    if (pulled) pulled.n++;
    yield e;
  }
}

function sink() {
  const lines: string[] = [];
  const raw: { bytes: Buffer; stream: string }[] = [];
  return { lines, raw, out: { line: (l: string) => lines.push(l), raw: (bytes: Buffer, s: 'stdout' | 'stderr') => raw.push({ bytes, stream: s }) } };
}

describe('plannedDelay', () => {
  it('divides the recorded gap by the speed', () => {
    expect(plannedDelay(1000, 1)).toEqual({ waitMs: 1000 });
    expect(plannedDelay(1000, 4)).toEqual({ waitMs: 250 });
    expect(plannedDelay(1000, 0.5)).toEqual({ waitMs: 2000 });
  });

  it('speed 0 means no waiting', () => {
    expect(plannedDelay(1000, 0)).toEqual({ waitMs: 0 });
    expect(plannedDelay(60_000, 0)).toEqual({ waitMs: 0, idleMs: 60_000 });
  });

  it('caps gaps over 5 s at 5 s / speed and reports the real idle time', () => {
    expect(plannedDelay(37_200, 1)).toEqual({ waitMs: MAX_GAP_MS, idleMs: 37_200 });
    expect(plannedDelay(37_200, 10)).toEqual({ waitMs: 500, idleMs: 37_200 });
    expect(plannedDelay(5000, 1)).toEqual({ waitMs: 5000 });
    expect(idleMarker(37_200)).toBe('(… 37.2 s idle)');
  });

  it('never waits a negative time (clock steps)', () => {
    expect(plannedDelay(-20, 1)).toEqual({ waitMs: 0 });
  });
});

describe('playSession', () => {
  it('shows the header, statements, result tables, errors and denials with the original timing', async () => {
    const s = sink();
    const waits: number[] = [];
    const r = await playSession(session(), stream(pgEvents()), s.out, { speed: 2, sleep: async (ms) => void waits.push(ms) });
    const text = s.lines.join('\n');
    expect(s.lines[0]).toBe('session    ses_test');
    expect(text).toContain('who        alice (user, groups: dba, via token)');
    expect(text).toContain('connection pg-main (postgres) from 127.0.0.1:5555, application psql');
    expect(text).toContain('#1 select id, name from items');
    expect(text).toMatch(/→ SELECT 2, 2 rows in 250 ms/);
    expect(text).toMatch(/id \| name\n\s+---\+-----\n\s+1 +\| one *\n\s+2 +\| two/);
    expect(text).toContain('✗ ERROR 42P01: relation "nope" does not exist');
    expect(text).toContain('DENIED by no-drops: drop table items');
    expect(text).toContain('(… 37.2 s idle)');
    expect(text).toContain('session ended (client_terminated)');
    expect(s.lines.at(-1)).toBe('— end of recording (7 events) —');
    // gaps: 1000, 250, 2000, 10, 37200 (capped to 5000), 540 — each divided by 2
    expect(waits).toEqual([500, 125, 1000, 5, 2500, 270]);
    expect(r).toMatchObject({ events: 7, shown: 6, quit: false, waitedMs: 4400 });
  });

  it('the idle marker comes before the event that ended the pause', async () => {
    const s = sink();
    await playSession(session(), stream(pgEvents()), s.out, { speed: 0 });
    const idle = s.lines.findIndex((l) => l.includes('37.2 s idle'));
    expect(s.lines[idle + 1]).toContain('DENIED');
  });

  it('speed 0 never sleeps', async () => {
    let slept = 0;
    await playSession(session(), stream(pgEvents()), sink().out, { speed: 0, sleep: async () => void slept++ });
    expect(slept).toBe(0);
  });

  it('step mode shows one event per key and does not wait for timing', async () => {
    const s = sink();
    const keys: StepKey[] = ['next', 'next', 'next', 'quit'];
    let asked = 0;
    let slept = 0;
    const pulled = { n: 0 };
    const r = await playSession(session(), stream(pgEvents(), pulled), s.out, {
      speed: 1,
      sleep: async () => void slept++,
      step: async () => {
        asked++;
        return keys.shift()!;
      },
    });
    expect(asked).toBe(4);
    expect(slept).toBe(0);
    expect(r).toMatchObject({ shown: 3, quit: true });
    const text = s.lines.join('\n');
    expect(text).toContain('#1 select id, name from items');
    expect(text).toContain('#3 select * from nope');
    expect(text).not.toContain('42P01');
    expect(s.lines.at(-1)).toBe('— replay stopped —');
    // streamed: nothing past the event it stopped at was read
    expect(pulled.n).toBe(5);
  });

  it('writes interactive output bytes (base64 or utf8) with their timing', async () => {
    const s = sink();
    const waits: number[] = [];
    const events = [
      ev(0, 0, 'session.start', {}),
      ev(1, 100, 'ssh.output', { data: Buffer.from('$ ').toString('base64'), encoding: 'base64', stream: 'stdout' }),
      ev(2, 900, 'ssh.input', { data: 'bHMK', encoding: 'base64' }),
      ev(3, 1100, 'ssh.output', { data: 'ls\r\nfile-a  file-b\r\n', stream: 'stdout' }),
      ev(4, 1200, 'ssh.output', { data: Buffer.from([0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xff]).toString('base64'), encoding: 'base64', stream: 'stderr' }),
      ev(5, 1300, 'session.end', { reason: 'client_disconnected' }),
    ];
    const r = await playSession(session({ protocol: 'ssh' }), stream(events), s.out, { speed: 1, sleep: async (ms) => void waits.push(ms) });
    expect(s.raw.slice(0, 3).map((x) => [x.bytes.toString('latin1'), x.stream])).toEqual([
      ['$ ', 'stdout'],
      ['ls\r\nfile-a  file-b\r\n', 'stdout'],
      ['\x1b[31m\xff', 'stderr'],
    ]);
    // input is not shown (the echo is in the output); timing runs between shown events
    expect(waits).toEqual([100, 1000, 100, 100]);
    expect(r.shown).toBe(4);
    // attributes are reset after recorded output, and text resumes on a fresh line
    expect(s.raw.slice(3).map((x) => x.bytes.toString('latin1'))).toEqual(['\r\n', '\x1b[0m\x1b[?25h']);
    expect(s.lines.some((l) => l.includes('session ended (client_disconnected)'))).toBe(true);
  });

  it('renders review and notice events', () => {
    expect(renderEvent(ev(3, 10, 'review.requested', { text: 'delete from t', rule: 'deletes', approvers: ['bob'] }), T0)).toEqual({
      lines: ['   +0.010s #3 REVIEW requested under deletes (approvers: bob): delete from t'],
    });
    expect(renderEvent(ev(4, 20, 'review.decided', { approved: false, reviewer: 'bob', reason: 'no' }), T0)).toEqual({ lines: ['   +0.020s   review denied by bob: no'] });
    expect(renderEvent(ev(0, 0, 'session.start', {}), T0)).toBeUndefined();
  });
});

describe('airlock replay (store, CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-replay-unit-'));
  const config = join(dir, 'airlock.yaml');
  writeFileSync(config, `dataDir: ${JSON.stringify(join(dir, 'data'))}\n`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function seed(s: SessionRecord, events: StoredEvent[]) {
    const store = new SqliteStore(join(dir, 'data', 'airlock.db'));
    await store.insertSession(s);
    await store.appendEvents(events);
    await store.close();
  }

  it('plays synthetic ssh.output events inserted through the store', async () => {
    const s = session({ id: 'ses_ssh', protocol: 'ssh', connection: 'box' });
    await seed(s, [
      ev(0, 0, 'session.start', {}, 'ses_ssh'),
      ev(1, 50, 'ssh.output', { data: Buffer.from('hello\r\n').toString('base64'), encoding: 'base64', stream: 'stdout' }, 'ses_ssh'),
      ev(2, 60_050, 'ssh.output', { data: 'bye\r\n', stream: 'stdout' }, 'ses_ssh'),
      ev(3, 60_100, 'session.end', { reason: 'client_disconnected' }, 'ses_ssh'),
    ]);
    const lines: string[] = [];
    const raw: string[] = [];
    const waits: number[] = [];
    const code = await replayCommand(['ses_ssh', '--speed', '10', '--config', config], { out: (l) => lines.push(l), err: () => {} }, {
      raw: (b) => raw.push(b.toString('utf8')),
      sleep: async (ms) => void waits.push(ms),
    });
    expect(code).toBe(0);
    expect(raw.slice(0, 2)).toEqual(['hello\r\n', 'bye\r\n']);
    expect(lines).toContain('           (… 60.0 s idle)');
    expect(waits).toEqual([5, 500, 5]);
  });

  it('--step without a terminal reads one line per event; q quits', async () => {
    const s = session({ id: 'ses_pg' });
    await seed(s, pgEvents().map((e) => ({ ...e, sessionId: 'ses_pg' })));
    const lines: string[] = [];
    const keys: StepKey[] = ['next', 'next', 'quit'];
    const code = await replayCommand(['ses_pg', '--step', '--config', config], { out: (l) => lines.push(l), err: () => {} }, { keys: async () => keys.shift()! });
    expect(code).toBe(0);
    expect(lines.join('\n')).toContain('SELECT 2, 2 rows');
    expect(lines.join('\n')).not.toContain('42P01');
  });

  it('usage errors', async () => {
    const io = { out: () => {}, err: () => {} };
    await expect(replayCommand(['--config', config], io)).rejects.toThrow(/session id required/);
    await expect(replayCommand(['ses_pg', '--speed', 'fast', '--config', config], io)).rejects.toThrow(/--speed takes a number/);
    await expect(replayCommand(['ses_pg', '--exec', '--config', config], io)).rejects.toThrow(/--exec needs --to/);
    await expect(replayCommand(['ses_pg', '--to', 'x', '--config', config], io)).rejects.toThrow(/go with --exec/);
    await expect(replayCommand(['ses_nope', '--config', config], io)).rejects.toThrow(/no session ses_nope/);
  });
});
