import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { freePort } from '../harness/ports.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { FrameReader } from '../../src/protocols/postgres/codec/frame-reader.ts';
import { decodeErrorFields } from '../../src/protocols/postgres/codec/backend.ts';
import { encodePassword, encodeSslRequest, encodeStartup } from '../../src/protocols/postgres/codec/frontend.ts';

let pg: PgServer;
let gw: TestGateway;
let apiPort: number;
let token: string;

const TIMEOUT_MS = 2500;
const PER_SOURCE = 4;

beforeAll(async () => {
  pg = await startPostgres();
  apiPort = await freePort();
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', ssh: '127.0.0.1:0', api: `127.0.0.1:${apiPort}` },
    limits: { preAuthTimeout: `${TIMEOUT_MS}ms`, maxPreAuthPerSource: PER_SOURCE, maxPreAuth: 50 },
    connections: { db: pgConnection(pg) },
  });
  token = await gw.token('alice', ['dba']);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await pg?.stop();
});

interface Raw {
  readonly socket: Socket;
  /** Bytes received so far. */
  received(): Buffer;
  /** Resolves with the time (ms since connect) the gateway closed the connection. */
  readonly closedAfter: Promise<number>;
}

function open(port: number, localAddress = '127.0.0.1'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolve({ socket, received: () => Buffer.concat(chunks), closedAfter }));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    const closedAfter = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)));
    socket.once('error', reject);
  });
}

const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return what();
};

/** The first ErrorResponse in what the gateway sent (after an optional single-byte SSL answer). */
function errorIn(bytes: Buffer): Record<string, string> | undefined {
  const reader = new FrameReader(1 << 20);
  reader.push(bytes[0] === 0x4e || bytes[0] === 0x53 ? bytes.subarray(1) : bytes);
  for (let f = reader.next(); f; f = reader.next()) if (f.code === 0x45) return decodeErrorFields(f.body);
  return undefined;
}

async function healthz(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status;
}

/** A full login from `localAddress` with the raw protocol; resolves with the code of the answer ('Z' ready or 'E'). */
async function login(localAddress: string): Promise<string> {
  const c = await open(gw.pgPort, localAddress);
  c.socket.write(encodeStartup({ user: 'alice', database: 'db' }));
  await until(() => c.received().length > 0);
  c.socket.write(encodePassword(token));
  await until(() => c.received().includes(0x5a) || c.received().includes(0x45));
  const answer = c.received().includes(0x5a) && !errorIn(c.received()) ? 'Z' : 'E';
  c.socket.destroy();
  return answer;
}

describe('before authentication', () => {
  it('closes a PostgreSQL connection idle after SSLRequest (in the TLS handshake) at the deadline', async () => {
    const c = await open(gw.pgPort);
    c.socket.write(encodeSslRequest());
    await until(() => c.received().length > 0);
    expect(c.received().toString()).toBe('S');
    const after = await c.closedAfter;
    expect(after).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(after).toBeLessThan(TIMEOUT_MS + 2500);
  });

  it('tells a PostgreSQL client that sent half a startup packet why it is closed', async () => {
    const c = await open(gw.pgPort);
    c.socket.write(encodeStartup({ user: 'alice', database: 'db' }).subarray(0, 10));
    const after = await c.closedAfter;
    expect(after).toBeLessThan(TIMEOUT_MS + 2500);
    expect(errorIn(c.received())?.M).toMatch(/not authenticated within 2\.5s/);
  });

  it('refuses an oversized password message from its header, without reading it', async () => {
    const c = await open(gw.pgPort);
    c.socket.write(encodeStartup({ user: 'alice', database: 'db' }));
    await until(() => c.received().length > 0);
    const header = Buffer.alloc(5);
    header[0] = 0x70; // 'p'
    header.writeInt32BE(60 * 1024 * 1024, 1);
    const sentAt = Date.now();
    c.socket.write(Buffer.concat([header, Buffer.alloc(1024, 0x61)]));
    const after = await c.closedAfter;
    expect(Date.now() - sentAt).toBeLessThan(2000);
    expect(errorIn(c.received())).toMatchObject({ S: 'FATAL', C: '08P01' });
    expect(after).toBeLessThan(TIMEOUT_MS);
  });

  it('repeats at most a short prefix of client input in an error', async () => {
    const c = await open(gw.pgPort);
    const user = `${'u'.repeat(3000)}\u001b[2J`;
    c.socket.write(encodeStartup({ user, database: 'db' }));
    await until(() => c.received().length > 0);
    c.socket.write(encodePassword('alk_not_a_token'));
    await c.closedAfter;
    const message = errorIn(c.received())?.M ?? '';
    expect(message).toContain('password authentication failed for user "uuuu');
    expect(message.length).toBeLessThan(250);
    expect(message).not.toContain('\u001b');

    const named = await open(gw.pgPort);
    named.socket.write(encodeStartup({ user: 'alice', database: `${'d'.repeat(5000)}\u001b]52;c;x\u0007` }));
    await until(() => named.received().length > 0);
    named.socket.write(encodePassword(token));
    await named.closedAfter;
    const refused = errorIn(named.received())?.M ?? '';
    expect(refused).toMatch(/^connection "d{64}…" does not exist or you may not use it$/);
  });

  it('caps connections not authenticated yet per source: the next one from it is refused, another source logs in, /healthz answers', async () => {
    const idle = await Promise.all(Array.from({ length: PER_SOURCE }, () => open(gw.pgPort)));
    await new Promise((r) => setTimeout(r, 100));
    try {
      await capReached();
    } finally {
      for (const c of idle) c.socket.destroy();
    }
    await Promise.all(idle.map((c) => c.closedAfter));
    await new Promise((r) => setTimeout(r, 50));
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'db' }, ['-c', 'select 1']);
    expect(r.code, r.stderr).toBe(0);
  });

  async function capReached(): Promise<void> {
    const refused = await open(gw.pgPort);
    expect(await refused.closedAfter).toBeLessThan(2000);
    expect(errorIn(refused.received())).toMatchObject({ C: '53300' });
    expect(errorIn(refused.received())?.M).toMatch(/too many connections from 127\.0\.0\.1 are not authenticated yet/);
    // SSH counts against the same cap for the same source: refused with a line before the version exchange.
    const ssh = await open(gw.sshPort);
    await ssh.closedAfter;
    expect(ssh.received().toString()).toMatch(/^Airlock: too many connections from 127\.0\.0\.1/);

    expect(await login('127.0.0.2')).toBe('Z');
    expect(await healthz()).toBe(200);
  }

  it('closes an SSH connection that does not authenticate by the deadline', async () => {
    const c = await open(gw.sshPort);
    c.socket.write('SSH-2.0-OpenSSH_9.2\r\n');
    const after = await c.closedAfter;
    expect(c.received().toString()).toMatch(/^SSH-2\.0-Airlock/);
    expect(after).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(after).toBeLessThan(TIMEOUT_MS + 2500);
    expect(await healthz()).toBe(200);
  });
});
