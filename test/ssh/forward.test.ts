import { createServer, connect, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { freePort } from '../harness/ports.ts';
import { waitFor, waitForPort } from '../harness/wait.ts';
import { clientOptions, endedSession, makeClientKey, registerKey, run, sessionEvents, sshConnection, type ClientKey } from './helpers.ts';

let sshd: SshdServer;
let gw: TestGateway;
let key: ClientKey;
let echo: Server;
let echoPort: number;

beforeAll(async () => {
  sshd = await startSshd();
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as { port: number }).port;
  const guarded = { deny: [{ name: 'no-echo', patterns: [`^127\\.0\\.0\\.1:${echoPort}$`] }] };
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    connections: {
      'web-01': await sshConnection(sshd, { allowPortForwarding: true }),
      // Forwarding is off unless a connection enables it.
      'no-fwd': await sshConnection(sshd),
      // A database the gateway guards, reachable from the SSH target.
      'pg-echo': { type: 'postgres', host: 'localhost', port: echoPort, database: 'x', user: 'x', allow: ['dba'] },
      guarded: await sshConnection(sshd, { allowPortForwarding: true, policy: guarded }),
      hops: await sshConnection(sshd, { allowPortForwarding: true, allowSshHops: true }),
    },
  });
  key = await makeClientKey();
  await registerKey(gw.gw.store, key, 'alice', ['ops']);
});

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await key?.remove();
  echo?.close();
});

/** Starts `ssh -N -L` through the gateway; returns the local port and a function that ends it. */
async function tunnel(login: string, dest = '127.0.0.1'): Promise<{ port: number; stop: () => Promise<{ code: number; stderr: string }> }> {
  const port = await freePort();
  let pid = 0;
  const done = run('ssh', [...clientOptions(gw.sshPort, key.file), '-N', '-L', `127.0.0.1:${port}:${dest}:${echoPort}`, `${login}@127.0.0.1`], {
    timeoutMs: 60_000, onSpawn: (p) => (pid = p),
  });
  await waitForPort(port, { timeoutMs: 10_000 });
  return {
    port,
    stop: async () => {
      process.kill(pid, 'SIGTERM');
      return done;
    },
  };
}

/** Sends `data` through the tunnel and collects what comes back until `expect` bytes or the socket closes. */
function roundTrip(port: number, data: Buffer, expectBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    const s = connect(port, '127.0.0.1', () => s.write(data));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      n += d.length;
      if (n >= expectBytes) s.end();
    });
    s.on('close', () => resolve(Buffer.concat(chunks)));
    // A refused channel makes ssh reset the local connection: that is an answer too.
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks)) : reject(err)));
  });
}

describe('local port forwarding through the gateway', () => {
  it('relays a forwarded TCP connection and records the bytes each way', async () => {
    const since = Date.now();
    const t = await tunnel('alice+web-01');
    const payload = Buffer.alloc(300_000, 7);
    const back = await roundTrip(t.port, payload, payload.length);
    expect(back.equals(payload)).toBe(true);
    await t.stop();
    const s = await endedSession(gw.gw.store, 'alice', since);
    // (The tunnel's readiness probe made a forward of its own, with no bytes.)
    const fwd = await waitFor(async () => (await sessionEvents(gw.gw.store, s.id)).find((e) => e.type === 'ssh.forward' && Number(e.data.bytesIn) > 0));
    expect(fwd.data).toMatchObject({ host: '127.0.0.1', port: echoPort, bytesIn: 300_000, bytesOut: 300_000 });
    // The destination is the target of connection pg-echo: allowed here, but recorded as going around it.
    const warned = (await sessionEvents(gw.gw.store, s.id)).find((e) => e.type === 'ssh.forward_to_connection');
    expect(warned?.data).toMatchObject({ host: '127.0.0.1', port: echoPort, connections: ['pg-echo'] });
  });

  it('refuses forwarding on a connection that has not enabled it (allowPortForwarding: false by default)', async () => {
    const since = Date.now();
    const t = await tunnel('alice+no-fwd');
    const back = await roundTrip(t.port, Buffer.from('hello'), 5);
    expect(back.length).toBe(0);
    await t.stop();
    const s = await endedSession(gw.gw.store, 'alice', since);
    const events = await sessionEvents(gw.gw.store, s.id);
    expect(events.find((e) => e.type === 'policy.deny')?.data).toMatchObject({ kind: 'forward', rule: 'allowPortForwarding' });
    expect(events.find((e) => e.type === 'ssh.forward')).toMatchObject({ data: { status: 'denied' }, outcome: 'denied' });
  });

  it('decides on the address the name resolves to, and connects to exactly that address', async () => {
    for (const dest of ['127.0.0.1', 'localhost', '127.1', '0', '2130706433', '[::ffff:127.0.0.1]']) {
      const since = Date.now();
      const t = await tunnel('alice+guarded', dest);
      const back = await roundTrip(t.port, Buffer.from('hello'), 5);
      await t.stop();
      expect(back.length, `forward to ${dest} got through`).toBe(0);
      const s = await endedSession(gw.gw.store, 'alice', since);
      const denied = (await sessionEvents(gw.gw.store, s.id)).find((e) => e.type === 'ssh.forward' && e.outcome === 'denied');
      expect(denied?.data, dest).toMatchObject({ address: '127.0.0.1', port: echoPort, status: 'denied' });
    }
  });

  it("refuses a hop to the target's own SSH server (ProxyCommand / -W), however it is named", async () => {
    for (const host of ['127.0.0.1', 'localhost']) {
      const hop = `ssh ${clientOptions(gw.sshPort, key.file).join(' ')} -W %h:%p alice+web-01@127.0.0.1`;
      const r = await run('ssh', [
        '-o', `ProxyCommand=${hop}`, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes',
        '-o', 'ConnectTimeout=10', '-o', 'IdentitiesOnly=yes', '-i', sshd.clientKeyFile, '-p', String(sshd.port), `${sshd.user}@${host}`, 'echo HOPPED',
      ]);
      expect(r.stdout, host).not.toContain('HOPPED');
      expect(r.code, host).not.toBe(0);
    }
  });

  it('cuts off a forward whose destination answers as an SSH server on any port, unless the connection allows SSH hops', async () => {
    // Another SSH server the target can reach (standing in for the target's sshd on another of its addresses).
    const other = await startSshd();
    try {
      const hopTo = (login: string) => run('ssh', [
        '-o', `ProxyCommand=ssh ${clientOptions(gw.sshPort, key.file).join(' ')} -W %h:%p ${login}@127.0.0.1`,
        '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10',
        '-o', 'IdentitiesOnly=yes', '-i', other.clientKeyFile, '-p', String(other.port), `${other.user}@127.0.0.1`, 'echo HOPPED',
      ]);
      const since = Date.now();
      const refused = await hopTo('alice+web-01');
      expect(refused.stdout).not.toContain('HOPPED');
      expect(refused.code).not.toBe(0);
      const s = await endedSession(gw.gw.store, 'alice', since);
      const cut = await waitFor(async () => (await sessionEvents(gw.gw.store, s.id)).find((e) => e.type === 'ssh.forward' && e.data.status === 'denied'));
      expect(String(cut.data.reason)).toContain('is an SSH server');
      const allowed = await hopTo('alice+hops');
      expect(allowed.stdout, allowed.stderr).toContain('HOPPED');
    } finally {
      await other.stop();
    }
  });
});
