import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { RawPgClient } from '../harness/raw-pg-client.ts';
import pg from 'pg';
import { encodeQuery } from '../../src/protocols/postgres/codec/frontend.ts';

let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres();
  gw = await startGateway({ connections: { app: pgConnection(server) }, recording: { maxRows: 50, maxBytes: 65536 } });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

/** CopyData messages carrying `total` bytes of `id\tpayload` text rows, 64 KiB of rows each; returns them and the row count. */
function copyData(total: number): { bytes: Buffer; rows: number } {
  const row = (i: number) => `${i}\t${'y'.repeat(100)}\n`;
  const parts: Buffer[] = [];
  let rows = 0;
  for (let size = 0; size < total; ) {
    let text = '';
    while (text.length < 64 * 1024) text += row(rows++);
    const body = Buffer.from(text);
    const header = Buffer.alloc(5);
    header[0] = 0x64;
    header.writeInt32BE(body.length + 4, 1);
    parts.push(header, body);
    size += body.length + 5;
  }
  return { bytes: Buffer.concat(parts), rows };
}

describe('streaming', () => {
  it('stops reading a fast client while the target is not reading (backpressure toward the target)', async () => {
    await server.sql('create table copy_target (id int, payload text)');
    // A transaction that holds the table: PostgreSQL does not read the COPY until it gets the lock.
    const holder = new pg.Client({ host: server.host, port: server.port, user: server.superuser, password: server.password, database: server.database });
    await holder.connect();
    await holder.query('begin');
    await holder.query('lock table copy_target in access exclusive mode');
    const token = await gw.token('alice', ['dba']);
    const client = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    const done = client.until('C', 'E');
    const { bytes, rows } = copyData(96 * 1024 * 1024);
    // The statement, all the data and CopyDone at once, as a client may pipeline them.
    client.socket.write(Buffer.concat([encodeQuery('copy copy_target from stdin'), bytes, Buffer.from([0x63, 0, 0, 0, 4])]));
    await new Promise((r) => setTimeout(r, 1500));
    // Most of it is still in the client's own buffer: the gateway took only what the sockets between hold.
    expect(client.socket.writableLength).toBeGreaterThan(48 * 1024 * 1024);
    await holder.query('commit');
    await holder.end();
    const tag = await done;
    expect(tag.body.toString('utf8', 0, tag.body.length - 1)).toBe(`COPY ${rows}`);
    expect(client.socket.writableLength).toBe(0);
    client.end();
    await client.closed;
  }, 60_000);


  it('relays a 1 GB result with bounded gateway memory, through a slow reader (backpressure)', async () => {
    const token = await gw.token('alice', ['dba']);
    const client = await RawPgClient.login(gw.pgPort, 'alice', 'app', token);
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
    let bytes = 0;
    let rows = 0;
    const done = new Promise<string>((resolve) => {
      client.onFrame = (f) => {
        bytes += f.bytes.length;
        if (f.code === 0x44) rows++;
        if (f.code === 0x43) resolve(f.body.toString('utf8', 0, f.body.length - 1));
      };
    });
    // 1,000,000 rows × ~1 KB = ~1 GB. The reader stalls for a while first: the gateway must stop
    // reading from the target rather than buffer what the client does not take.
    client.socket.pause();
    client.query("select repeat('x', 1000) as payload from generate_series(1, 1000000)");
    await new Promise((r) => setTimeout(r, 1500));
    const duringStall = process.memoryUsage().rss;
    client.socket.resume();
    const tag = await done;
    clearInterval(sampler);
    expect(tag).toBe('SELECT 1000000');
    expect(rows).toBe(1_000_000);
    expect(bytes).toBeGreaterThan(1_000_000_000);
    expect(duringStall - baseline).toBeLessThan(64 * 1024 * 1024);
    expect(peak - baseline).toBeLessThan(160 * 1024 * 1024);
    client.end();
    await client.closed;
    let s;
    for (let i = 0; i < 200 && !s; i++) {
      s = (await gw.gw.store.listSessions({ open: false })).find((x) => x.bytesOut > 1_000_000_000);
      if (!s) await new Promise((r) => setTimeout(r, 20));
    }
    const events = [];
    for await (const e of gw.gw.store.readEvents(s!.id)) events.push(e);
    const result = events.find((e) => e.type === 'db.result');
    expect(result?.data).toMatchObject({ rows: 1_000_000, truncated: true });
    expect((result?.data.sample as unknown[]).length).toBeLessThanOrEqual(50);
    expect(s!.bytesOut).toBeGreaterThan(1_000_000_000);
  }, 120_000);

  it('counts the rows past one statement\'s sample and samples the next statement of the same query again', async () => {
    const token = await gw.token('bob', ['dba']);
    const client = await RawPgClient.login(gw.pgPort, 'bob', 'app', token);
    /** DataRows the client got per statement, and the statements' tags. */
    const rowsSeen: number[] = [0];
    const tags: string[] = [];
    const done = new Promise<void>((resolve) => {
      client.onFrame = (f) => {
        if (f.code === 0x44) rowsSeen[rowsSeen.length - 1]!++;
        if (f.code === 0x43) {
          tags.push(f.body.toString('utf8', 0, f.body.length - 1));
          rowsSeen.push(0);
        }
        if (f.code === 0x5a) resolve();
      };
    });
    // 5,000 rows (the sample keeps 50), then 3 rows, then SHOW ALL, whose tag carries no count: its rows past the
    // sample are counted by the gateway alone.
    client.query('select g from generate_series(1, 5000) g; select g * 10 from generate_series(1, 3) g; show all');
    await done;
    expect(tags).toEqual(['SELECT 5000', 'SELECT 3', 'SHOW']);
    expect(rowsSeen.slice(0, 2)).toEqual([5000, 3]);
    expect(rowsSeen[2]).toBeGreaterThan(50);
    client.end();
    await client.closed;
    await expect.poll(async () => (await gw.gw.store.listSessions({ user: 'bob', open: false })).length).toBe(1);
    const [s] = await gw.gw.store.listSessions({ user: 'bob', open: false });
    const results = [];
    for await (const e of gw.gw.store.readEvents(s!.id)) if (e.type === 'db.result') results.push(e.data);
    expect(results).toHaveLength(3);
    expect(results[0]).toMatchObject({ rows: 5000, truncated: true, tag: 'SELECT 5000' });
    expect((results[0]!.sample as string[][]).slice(0, 2)).toEqual([['1'], ['2']]);
    expect(results[0]!.sample as unknown[]).toHaveLength(50);
    expect(results[1]).toMatchObject({ rows: 3, sample: [['10'], ['20'], ['30']], tag: 'SELECT 3' });
    expect(results[1]).not.toHaveProperty('truncated');
    expect(results[2]).toMatchObject({ rows: rowsSeen[2], truncated: true, tag: 'SHOW' });
  });
});
