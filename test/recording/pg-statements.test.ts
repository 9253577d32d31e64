import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBind, encodeClose, encodeExecute, encodeParse, encodeQuery, encodeSync } from '../../src/protocols/postgres/codec/frontend.ts';
import type { StoredEvent } from '../../src/store/types.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import { waitFor } from '../harness/wait.ts';

let server: PgServer;
let gw: TestGateway;
let token: string;

beforeAll(async () => {
  server = await startPostgres();
  await server.sql("CREATE TABLE people (email text); INSERT INTO people VALUES ('ann@example.com')");
  gw = await startGateway({ connections: { app: pgConnection(server) } });
  token = await gw.token('alice', ['dba']);
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

/** Runs `send` on a fresh raw session, waits for `readies` ReadyForQuery messages, ends it and returns its sealed events. */
async function session(send: (c: RawPgClient) => void, readies: number): Promise<StoredEvent[]> {
  const before = new Set((await gw.gw.store.listSessions({ user: 'alice' })).map((s) => s.id));
  const c = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
  let ready = 0;
  c.onFrame = (f) => {
    if (f.code === 0x5a) ready++;
  };
  send(c);
  await waitFor(() => ready >= readies, { description: `${readies} ReadyForQuery` });
  c.end();
  await c.closed;
  const s = await waitFor(async () => (await gw.gw.store.listSessions({ user: 'alice' })).find((x) => !before.has(x.id) && x.lastHash !== null));
  const out: StoredEvent[] = [];
  for await (const e of gw.gw.store.readEvents(s.id)) out.push(e);
  return out;
}

/** Each recorded statement with the results recorded for it. */
function statements(events: StoredEvent[]): { text: string; results: Record<string, unknown>[] }[] {
  const bySeq = new Map<number, { text: string; results: Record<string, unknown>[] }>();
  for (const e of events) {
    if (e.type === 'db.query') bySeq.set(e.seq, { text: String(e.data.text), results: [] });
    if (e.type === 'db.result' || e.type === 'db.error') bySeq.get(Number(e.data.query))?.results.push(e.data);
  }
  return [...bySeq.values()];
}

describe('pipelined statements each get their own result', () => {
  it('simple Query messages sent together', async () => {
    const events = await session((c) => c.socket.write(Buffer.concat([1, 2, 3].map((i) => encodeQuery(`SELECT ${i} FROM generate_series(1, ${i})`)))), 3);
    expect(statements(events)).toEqual([1, 2, 3].map((i) => ({ text: `SELECT ${i} FROM generate_series(1, ${i})`, results: [expect.objectContaining({ tag: `SELECT ${i}`, rows: i })] })));
  });

  it('Parse/Bind/Execute with a Sync after each, sent together', async () => {
    const frames = [1, 2, 3].flatMap((i) => [encodeParse('', `SELECT ${i} FROM generate_series(1, ${i})`), encodeBind('', '', []), encodeExecute('', 0), encodeSync()]);
    const events = await session((c) => c.socket.write(Buffer.concat(frames)), 3);
    expect(statements(events)).toEqual([1, 2, 3].map((i) => ({ text: `SELECT ${i} FROM generate_series(1, ${i})`, results: [expect.objectContaining({ tag: `SELECT ${i}`, rows: i })] })));
  });

  it('an error skips the rest of its own batch only', async () => {
    const frames = [
      encodeParse('', 'SELECT 1/0'), encodeBind('', '', []), encodeExecute('', 0),
      encodeParse('', 'SELECT 2'), encodeBind('', '', []), encodeExecute('', 0), encodeSync(),
      encodeParse('', 'SELECT 3'), encodeBind('', '', []), encodeExecute('', 0), encodeSync(),
    ];
    const events = await session((c) => c.socket.write(Buffer.concat(frames)), 2);
    expect(statements(events)).toEqual([
      { text: 'SELECT 1/0', results: [expect.objectContaining({ code: '22012' })] },
      { text: 'SELECT 2', results: [{ query: expect.any(Number), skipped: true }] },
      { text: 'SELECT 3', results: [expect.objectContaining({ tag: 'SELECT 1', rows: 1 })] },
    ]);
  });
});

describe('a statement name stands for the text the target accepted', () => {
  const bindAndRun = [encodeBind('', 's', []), encodeExecute('', 0), encodeSync()];

  it('a Parse the target rejects (42P05, duplicate name) does not replace the text, pipelined or not', async () => {
    const events = await session((c) => {
      c.socket.write(Buffer.concat([
        encodeParse('s', 'SELECT email FROM people'), encodeSync(),
        encodeParse('s', "SELECT 'harmless'"), encodeSync(),
        ...bindAndRun,
      ]));
    }, 3);
    const run = statements(events);
    expect(run).toEqual([{ text: 'SELECT email FROM people', results: [expect.objectContaining({ tag: 'SELECT 1', rows: 1 })] }]);
  });

  it('a statement prepared with SQL PREPARE is recorded with its PREPARE text when bound, pipelined or not; DEALLOCATE forgets it', async () => {
    const events = await session((c) => {
      c.socket.write(Buffer.concat([
        encodeQuery('PREPARE s AS SELECT email FROM people'),
        ...bindAndRun,
        encodeQuery('EXECUTE s'),
        encodeQuery('DEALLOCATE s'),
        encodeParse('s', 'SELECT 2'), ...bindAndRun,
      ]));
    }, 5);
    expect(statements(events).map((x) => [x.text, x.results[0]?.tag])).toEqual([
      ['PREPARE s AS SELECT email FROM people', 'PREPARE'],
      ['PREPARE s AS SELECT email FROM people', 'SELECT 1'],
      ['EXECUTE s', 'SELECT 1'],
      ['DEALLOCATE s', 'DEALLOCATE'],
      ['SELECT 2', 'SELECT 1'],
    ]);
    // EXECUTE is recorded with the text the name stands for.
    expect(events.find((e) => e.type === 'db.query' && e.data.text === 'EXECUTE s')?.data.prepared).toEqual([{ name: 's', text: 'PREPARE s AS SELECT email FROM people' }]);
  });

  it('a Close takes the name away once the target has done it; a Parse in the same batch counts at once', async () => {
    const events = await session((c) => {
      c.socket.write(Buffer.concat([
        encodeParse('s', 'SELECT 1'), encodeSync(),
        encodeClose('S', 's'), encodeParse('s', 'SELECT 2'), encodeSync(),
        ...bindAndRun,
        encodeParse('s', 'SELECT 3'), ...bindAndRun,
      ]));
    }, 4);
    expect(statements(events).map((s) => [s.text, s.results[0]?.tag ?? s.results[0]?.code])).toEqual([['SELECT 2', 'SELECT 1'], ['SELECT 3', '42P05']]);
  });
});

describe('EXECUTE of a statement prepared in another statement', () => {
  it('is refused under deny rules (its text is not what the classifier sees), while the PREPARE itself is decided on the statement it prepares', async () => {
    const g = await startGateway({ connections: { app: pgConnection(server, { policy: { deny: [{ name: 'no-deletes', statements: ['delete'] }] } }) } });
    try {
      const c = await RawPgClient.login(g.pgPort, 'alice', 'app', await g.token('alice', ['dba']));
      const run = async (sql: string) => {
        c.query(sql);
        let error: string | undefined;
        for (;;) {
          const f = await c.next();
          if (f.code === 0x45) error = decodeErrorFields(f.body).C;
          if (f.code === 0x5a) return error;
        }
      };
      expect(await run('PREPARE del AS DELETE FROM people')).toBe('42501');
      expect(await run('PREPARE sel AS SELECT 1')).toBeUndefined();
      expect(await run('EXECUTE sel')).toBe('42501');
      expect(await server.sql('SELECT count(*) FROM people')).toBe('1');
      c.end();
      await c.closed;
    } finally {
      await g.stop();
    }
  });
});
