import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { eventHash, GENESIS, sealMessage } from '../../src/recording/chain.ts';
import { Recorder } from '../../src/recording/recorder.ts';
import { reexecute } from '../../src/recording/reexec.ts';
import { buildConnectionPolicies } from '../../src/server/policies.ts';
import { KeyRing, verifySignature } from '../../src/recording/keys.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { runCli } from '../harness/cli.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { waitFor } from '../harness/wait.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TMUX_SOCKET = `airlock-replay-test-${process.pid}`;
const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;

let pg1: PgServer;
let gw: TestGateway;
let dir: string;
let configFile: string;
/** The psql session recorded through the gateway. */
let sourceId: string;

const SCRIPT = [
  'create table items (id int primary key, name text);',
  "insert into items values (1, 'one'), (2, 'two'), (3, 'three');",
  'select id, name from items order by id;',
  'select n from ref order by n;',
  'select 1 as a \\; select 2 as b;',
  'truncate ref;',
  'select * from missing_table;',
].join('\n');

async function events(id: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const e of gw.gw.store.readEvents(id)) out.push(e);
  return out;
}

async function closedSession(user: string, after: Set<string>): Promise<string> {
  return waitFor(async () => (await gw.gw.store.listSessions({ user, open: false })).find((s) => !after.has(s.id))?.id, {
    timeoutMs: 10_000, description: `a closed session of ${user}`,
  });
}

function tmux(args: string[]): string {
  return execFileSync('tmux', ['-L', TMUX_SOCKET, ...args], { encoding: 'utf8' });
}

/** What a person sees in the pane (the whole scrollback). */
function screen(name: string): string {
  return tmux(['capture-pane', '-p', '-J', '-S', '-', '-t', name]);
}

function cliCommand(args: string[]): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, join(ROOT, 'bin', 'airlock.js'), ...args].map(quote).join(' ');
}

beforeAll(async () => {
  pg1 = await startPostgres();
  await pg1.sql('CREATE DATABASE sandbox');
  await pg1.sql('CREATE TABLE ref (n int)');
  await pg1.sql('INSERT INTO ref SELECT generate_series(1, 5)');
  await pg1.psql(['-d', 'sandbox', '-c', 'CREATE TABLE ref (n int); INSERT INTO ref SELECT generate_series(1, 5)']);
  const connections = {
    'pg-main': pgConnection(pg1, { policy: { deny: [{ name: 'no-truncate', statements: ['truncate'] }] } }),
    sandbox: pgConnection(pg1, { database: 'sandbox' }),
  };
  gw = await startGateway({ connections });
  dir = mkdtempSync(join(tmpdir(), 'airlock-replay-cli-'));
  configFile = join(dir, 'airlock.yaml');
  // The CLI runs on the gateway host with the gateway's configuration (JSON is YAML).
  writeFileSync(configFile, JSON.stringify({ dataDir: gw.dataDir, connections }), { mode: 0o600 });

  const token = await gw.token('alice', ['dba']);
  const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'pg-main' }, ['-v', 'ON_ERROR_STOP=0', '-f', '-'], { input: SCRIPT });
  expect(r.stderr).toContain('Airlock');
  expect(r.stderr).toContain('missing_table');
  sourceId = await closedSession('alice', new Set());
}, 120_000);

afterAll(async () => {
  try {
    const socket = tmux(['display-message', '-p', '#{socket_path}']).trim();
    execFileSync('tmux', ['-L', TMUX_SOCKET, 'kill-server'], { stdio: 'ignore' });
    if (socket) rmSync(socket, { force: true });
  } catch {
    // no server was started
  }
  await gw?.stop();
  await pg1?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the recorded source session', () => {
  it('has the statements, results, the denial and the error', async () => {
    const ev = await events(sourceId);
    expect(ev.filter((e) => e.type === 'db.query').map((e) => e.data.text)).toEqual([
      'create table items (id int primary key, name text);',
      "insert into items values (1, 'one'), (2, 'two'), (3, 'three');",
      'select id, name from items order by id;',
      'select n from ref order by n;',
      'select 1 as a ; select 2 as b;',
      'select * from missing_table;',
    ]);
    expect(ev.find((e) => e.type === 'policy.deny')?.data).toMatchObject({ rule: 'no-truncate', text: 'truncate ref;' });
  });
});

describe('airlock replay --exec', () => {
  let replayId: string;

  it('re-runs every executed statement against the sandbox: same outcomes', async () => {
    const r = await runCli(['replay', sourceId, '--exec', '--to', 'sandbox', '--as', 'investigator', '--config', configFile]);
    expect(r.err).toBe('');
    const out = r.out;
    expect(out).toContain(`re-running 6 statements of session ${sourceId} (alice on pg-main`);
    const verdicts = out.split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\d+\s+/, ''));
    expect(verdicts).toEqual([
      'same (CREATE TABLE)',
      'same (INSERT 0 3)',
      'same (SELECT 3)',
      'same (SELECT 5)',
      'same (SELECT 1; SELECT 1)',
      'skipped: denied when recorded (no-truncate)',
      'same (error 42P01)',
    ]);
    expect(out).toMatch(/summary: 6 same, 1 skipped — every outcome as recorded; this run is session ses_\w+ \(sealed\)/);
    expect(r.code).toBe(0);
    replayId = /this run is recorded as session (ses_\w+)/.exec(out)![1];
    expect(out).toContain(`this run is session ${replayId} (sealed)`);
    // it really ran on the sandbox database
    expect(await pg1.psql(['-At', '-d', 'sandbox', '-c', 'select count(*) from items'])).toMatchObject({ stdout: '3\n' });
  });

  it('the re-execution is itself a recorded, sealed session naming its source', async () => {
    const s = await gw.gw.store.getSession(replayId);
    expect(s).toMatchObject({ protocol: 'postgres', connection: 'sandbox', subject: 'investigator', endReason: 'replay_complete', application: 'airlock replay' });
    const ev = await events(replayId);
    expect(ev[0].type).toBe('session.start');
    expect(ev[1]).toMatchObject({ type: 'replay.source', data: { sessionId: sourceId, connection: 'pg-main', subject: 'alice', statements: 6 } });
    expect(ev.filter((e) => e.type === 'db.query')).toHaveLength(6);
    // recorded like the gateway records: with the sandbox connection's stored masking (person-name column)
    expect(ev.find((e) => e.type === 'db.result' && e.data.tag === 'SELECT 3')?.data).toMatchObject({
      rows: 3, columns: ['id', 'name'], sample: [['1', '[NAME]'], ['2', '[NAME]'], ['3', '[NAME]']],
    });
    expect(ev.find((e) => e.type === 'db.error')?.data).toMatchObject({ code: '42P01' });
    expect(ev.at(-1)).toMatchObject({ type: 'session.end', data: { reason: 'replay_complete' } });
    // the chain holds (version 2: outcome and search text are hashed too) and the seal verifies with the gateway's key
    expect(ev[0].data.chain).toBe(2);
    let head = GENESIS;
    for (const e of ev) {
      head = eventHash(head, e, e);
      expect(e.hash).toBe(head);
    }
    expect(s!.lastHash).toBe(head);
    let seal;
    for await (const l of gw.gw.store.readLedger()) if (l.kind === 'seal' && l.sessionId === replayId) seal = l;
    expect(seal).toBeDefined();
    const data = seal!.data as { finalHash: string; eventCount: number; signature: string; keyId: string };
    expect(data).toMatchObject({ finalHash: head, eventCount: ev.length });
    const key = KeyRing.load(gw.dataDir).keys.find((k) => k.keyId === data.keyId)!;
    expect(verifySignature(key.publicKeyPem, sealMessage(replayId, ev.length, head), data.signature)).toBe(true);
  });

  it('reports rows that differ once the sandbox data changed', async () => {
    await pg1.psql(['-d', 'sandbox', '-c', 'DROP TABLE items; DELETE FROM ref WHERE n > 3']);
    const r = await runCli(['replay', sourceId, '--exec', '--to', 'sandbox', '--config', configFile]);
    const verdicts = r.out.split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\d+\s+/, ''));
    expect(verdicts[3]).toBe('rows differ (recorded 5, now 3)');
    expect(verdicts.filter((v) => v.startsWith('same'))).toHaveLength(5);
    expect(r.out).toMatch(/summary: 5 same, 1 rows differ, 1 skipped — outcomes differ/);
    expect(r.code).toBe(1);
  });

  it('reports errors that appear now', async () => {
    // items exists in the sandbox now (from the previous run): creating and inserting fail
    const r = await runCli(['replay', sourceId, '--exec', '--to', 'sandbox', '--config', configFile]);
    const verdicts = r.out.split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\d+\s+/, ''));
    expect(verdicts[0]).toBe('error now: 42P07 relation "items" already exists');
    expect(verdicts[1]).toMatch(/^error now: 23505 duplicate key value violates unique constraint/);
    expect(r.code).toBe(1);
  });

  it('refuses the session’s own connection without --force, and records nothing', async () => {
    const before = (await gw.gw.store.listSessions({ limit: 1000 })).length;
    const r = await runCli(['replay', sourceId, '--exec', '--to', 'pg-main', '--config', configFile]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`refusing to re-run session ${sourceId} against its own connection "pg-main"`);
    expect(r.err).toContain('--force');
    expect((await gw.gw.store.listSessions({ limit: 1000 })).length).toBe(before);
  });

  it('Ctrl-C abandons the statement under way and still seals the run', async () => {
    const store = gw.gw.store;
    const t = Date.now();
    await store.insertSession({
      id: 'ses_sleepy', protocol: 'postgres', connection: 'pg-main', subject: 'carol', groups: [], kind: 'user', authMethod: 'token',
      credentialId: null, clientAddress: '127.0.0.1:1', application: null, startedAt: t, endedAt: t + 1, endReason: 'client_terminated',
      bytesIn: 0, bytesOut: 0, eventCount: 2, lastHash: null, legalHold: false,
    });
    await store.appendEvents([
      { sessionId: 'ses_sleepy', seq: 0, time: t, type: 'session.start', data: {}, hash: 'x' },
      { sessionId: 'ses_sleepy', seq: 1, time: t + 1, type: 'db.query', data: { text: 'select pg_sleep(60)', mode: 'simple' }, hash: 'y' },
    ]);
    const config = loadConfig(configFile).config;
    const recorder = new Recorder(store, KeyRing.load(gw.dataDir), silentLogger);
    const controller = new AbortController();
    let rid = '';
    const started = Date.now();
    setTimeout(() => controller.abort(), 500);
    await expect(
      reexecute({
        store, recorder, config, source: (await store.getSession('ses_sleepy'))!, to: 'sandbox', signal: controller.signal,
        identity: { subject: 'investigator', groups: [], kind: 'user', authMethod: 'token' },
        policy: (await buildConnectionPolicies(config)).get('sandbox'),
        onStart: (id) => (rid = id),
      }),
    ).rejects.toThrow(/interrupted/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await recorder.close();
    expect(await store.getSession(rid)).toMatchObject({ endReason: 'replay_interrupted' });
    let sealed = false;
    for await (const l of store.readLedger()) if (l.kind === 'seal' && l.sessionId === rid) sealed = true;
    expect(sealed).toBe(true);
    // the statement was cancelled on the sandbox, not left running
    await waitFor(async () => (await pg1.sql("select count(*) from pg_stat_activity where query = 'select pg_sleep(60)'")) === '0', {
      timeoutMs: 10_000, description: 'the abandoned statement to be cancelled',
    });
  });

  it('re-sends the bound parameters of extended-protocol statements', async () => {
    const known = new Set((await gw.gw.store.listSessions({ user: 'bob' })).map((s) => s.id));
    const client = new pg.Client({ host: '127.0.0.1', port: gw.pgPort, user: 'bob', password: await gw.token('bob', ['dba']), database: 'pg-main' });
    await client.connect();
    expect((await client.query('select n from ref where n > $1 and n <= $2', [1, 4])).rowCount).toBe(3);
    await client.end();
    const id = await closedSession('bob', known);
    const q = (await events(id)).find((e) => e.type === 'db.query');
    expect(q?.data).toMatchObject({ mode: 'extended', params: ['1', '4'] });
    const r = await runCli(['replay', id, '--exec', '--to', 'sandbox', '--config', configFile]);
    // the sandbox's ref holds 1..3 now: n in (1, 4] gives 2 rows
    expect(r.out).toMatch(/#\d+\s+rows differ \(recorded 3, now 2\)\n\s+select n from ref where n > \$1 and n <= \$2/);
  });

  it('compares the values of the rows, not only their number: count(*) 5 against 3 differs', async () => {
    const known = new Set((await gw.gw.store.listSessions({ user: 'carl' })).map((s) => s.id));
    const r0 = await psql({ port: gw.pgPort, user: 'carl', password: await gw.token('carl', ['dba']), database: 'pg-main' }, ['-At', '-c', 'select count(*) as n from ref', '-c', 'select n from ref order by n']);
    expect(r0.stdout).toBe('5\n1\n2\n3\n4\n5\n');
    const id = await closedSession('carl', known);
    await pg1.psql(['-d', 'sandbox', '-c', 'UPDATE ref SET n = n * 10 WHERE n = 2']);
    const r = await runCli(['replay', id, '--exec', '--to', 'sandbox', '--config', configFile]);
    const verdicts = r.out.split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\d+\s+/, ''));
    // One row each time (SELECT 1): the value is what differs.
    expect(verdicts[0]).toBe('row values differ in 1 of the sampled rows: row 1: recorded (5), now (3)');
    expect(verdicts[1]).toBe('rows differ (recorded 5, now 3)');
    expect(r.code).toBe(1);
    await pg1.psql(['-d', 'sandbox', '-c', 'UPDATE ref SET n = n / 10 WHERE n = 20']);
  });

  it('compares a digest of all rows: a result whose sample is alike but whose later rows differ is reported as different', async () => {
    const known = new Set((await gw.gw.store.listSessions({ user: 'dora' })).map((s) => s.id));
    // 300 rows alike, past the 100 sampled, then the 3 rows of ref both databases hold: the change is only past the sample.
    const sql = 'select g from generate_series(1, 300) g union all select n from (select n from ref where n <= 3 order by n) s';
    const r0 = await psql({ port: gw.pgPort, user: 'dora', password: await gw.token('dora', ['dba']), database: 'pg-main' }, ['-At', '-c', sql, '-c', sql]);
    expect(r0.stdout.split('\n')).toHaveLength(607);
    const id = await closedSession('dora', known);
    const results = (await events(id)).filter((e) => e.type === 'db.result');
    expect(results.map((e) => e.data.digest)).toEqual([expect.stringMatching(/^[0-9a-f]{8}:[0-9a-f]{64}$/), results[0].data.digest]);
    expect(results[0].data).toMatchObject({ rows: 303, truncated: true });
    const same = await runCli(['replay', id, '--exec', '--to', 'sandbox', '--config', configFile]);
    expect(same.out.split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\d+\s+/, ''))).toEqual(['same (SELECT 303)', 'same (SELECT 303)']);
    await pg1.psql(['-d', 'sandbox', '-c', 'UPDATE ref SET n = -n WHERE n = 2']);
    try {
      const r = await runCli(['replay', id, '--exec', '--to', 'sandbox', '--config', configFile]);
      const verdicts = r.out.split('\n').filter((l) => l.startsWith('#')).map((l) => l.replace(/^#\d+\s+/, ''));
      expect(verdicts[0]).toBe('rows differ (digest of all 303 rows differs; the 100 sampled rows are alike as stored, a later or masked value differs)');
      expect(r.code).toBe(1);
    } finally {
      await pg1.psql(['-d', 'sandbox', '-c', 'UPDATE ref SET n = -n WHERE n = -2']);
    }
  });
});

describe('airlock events', () => {
  it('exports every session in time order as JSON Lines with the session fields', async () => {
    const r = await runCli(['events', '--since', '1h', '--config', configFile]);
    expect(r.code).toBe(0);
    const lines = r.out.split('\n').map((l) => JSON.parse(l));
    for (let i = 1; i < lines.length; i++) expect(lines[i].time).toBeGreaterThanOrEqual(lines[i - 1].time);
    const q = lines.find((l) => l.sessionId === sourceId && l.type === 'db.query');
    expect(q).toMatchObject({ subject: 'alice', groups: ['dba'], connection: 'pg-main', protocol: 'postgres', data: { text: SCRIPT.split('\n')[0] } });
    expect(q.clientAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(lines.some((l) => l.type === 'replay.source' && l.data.sessionId === sourceId && l.subject === 'investigator')).toBe(true);
  });

  it('exports OCSF: logon, datastore activity per statement, the denial, logoff', async () => {
    const r = await runCli(['events', '--format', 'ocsf', '--since', new Date(Date.now() - 3600_000).toISOString(), '--config', configFile]);
    expect(r.code).toBe(0);
    const mine = r.out.split('\n').map((l) => JSON.parse(l)).filter((o) => o.metadata.correlation_uid === sourceId);
    expect(mine.map((o) => `${o.class_uid}:${o.activity_name}:${o.status}`)).toEqual([
      '3002:Logon:Success',
      '6005:Create:Success',
      '6005:Write:Success',
      '6005:Query:Success',
      '6005:Query:Success',
      '6005:Query:Success',
      '6005:Query:Success',
      '6005:Delete:Failure',
      '6005:Query:Failure',
      '3002:Logoff:Success',
    ]);
    expect(mine[7]).toMatchObject({ action: 'Denied', authorizations: [{ policy: { name: 'no-truncate' } }], query_info: { query_string: 'truncate ref;' } });
    expect(mine[8]).toMatchObject({ status_code: '42P01', actor: { user: { name: 'alice', groups: [{ name: 'dba' }] } }, src_endpoint: { ip: '127.0.0.1' } });
  });

  it('rejects a bad format or time', async () => {
    expect((await runCli(['events', '--format', 'cef', '--config', configFile])).code).toBe(2);
    expect((await runCli(['events', '--since', 'yesterday-ish', '--config', configFile])).err).toContain('--since takes a duration');
  });
});

describe.skipIf(!HAS_TMUX)('airlock replay in a terminal (tmux)', () => {
  it('--speed 100 shows the statements and their result tables', async () => {
    tmux(['new-session', '-d', '-s', 'play', '-x', '200', '-y', '50', `${cliCommand(['replay', sourceId, '--speed', '100', '--config', configFile])}; echo __DONE__; sleep 600`]);
    const seen = await waitFor(() => (screen('play').includes('__DONE__') ? screen('play') : undefined), { timeoutMs: 30_000, description: 'replay to finish' });
    expect(seen).toContain(`session    ${sourceId}`);
    expect(seen).toContain('who        alice (user, groups: dba, via token)');
    expect(seen).toContain('#1 create table items (id int primary key, name text);');
    expect(seen).toContain('select id, name from items order by id;');
    expect(seen).toMatch(/→ SELECT 3, 3 rows in [\d.]+ ms/);
    // the stored result, as recorded: masked values only
    expect(seen).toMatch(/id \| name\s*\n\s+---\+-------\s*\n\s+1  \| \[NAME\]\s*\n\s+2  \| \[NAME\]\s*\n\s+3  \| \[NAME\]/);
    expect(seen).not.toMatch(/\| (one|two|three)/);
    expect(seen).toMatch(/#9 select 1 as a ; select 2 as b;\n.*→ SELECT 1, 1 rows[^\n]*\n\s+a\n\s+-\n\s+1\n.*→ SELECT 1, 1 rows[^\n]*\n\s+b\n/);
    expect(seen).toContain('DENIED by no-truncate: truncate ref;');
    expect(seen).toContain('✗ ERROR 42P01: relation "missing_table" does not exist');
    expect(seen).toContain('— end of recording');
  });

  it('--step advances one event per key press and quits on q', async () => {
    tmux(['new-session', '-d', '-s', 'step', '-x', '200', '-y', '50', `${cliCommand(['replay', sourceId, '--step', '--config', configFile])}; echo __DONE__; sleep 600`]);
    await waitFor(() => screen('step').includes('step mode: space or enter'), { timeoutMs: 30_000, description: 'step mode prompt' });
    expect(screen('step')).not.toContain('create table');

    tmux(['send-keys', '-t', 'step', 'Space']);
    await waitFor(() => screen('step').includes('#1 create table items'), { timeoutMs: 10_000, description: 'first event' });
    expect(screen('step')).not.toContain('→ CREATE TABLE');

    tmux(['send-keys', '-t', 'step', 'Enter']);
    await waitFor(() => screen('step').includes('→ CREATE TABLE'), { timeoutMs: 10_000, description: 'second event' });
    expect(screen('step')).not.toContain('insert into items');

    tmux(['send-keys', '-t', 'step', 'q']);
    const after = await waitFor(() => (screen('step').includes('__DONE__') ? screen('step') : undefined), { timeoutMs: 10_000, description: 'quit' });
    expect(after).toContain('— replay stopped —');
    expect(after).not.toContain('insert into items');
  });
});
