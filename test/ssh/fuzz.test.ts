import pg from 'pg';
import type { Client, ClientChannel } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueToken } from '../harness/gateway-child.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gateway-process.ts';
import { pgConnection } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { collect, gatewayClient, sshConnection } from './helpers.ts';
import { RawChannels, wire } from './raw-ssh.ts';

/**
 * No request a client can send ends the gateway. Channel and global requests are sent in every order
 * that matters (repeated, after the channel started, before what they depend on, of unknown types, on
 * channels that do not exist) by an authenticated client, allowed and refused alike, to the gateway
 * running as its own process; a shell and a PostgreSQL session opened before must still answer after.
 */

let sshd: SshdServer;
let pgServer: PgServer;
let gw: GatewayProcess;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  [sshd, pgServer] = await Promise.all([startSshd(), startPostgres()]);
  gw = await startGatewayProcess(
    {
      listen: { ssh: '127.0.0.1:0', postgres: '127.0.0.1:0' },
      connections: { 'web-01': await sshConnection(sshd), app: pgConnection(pgServer, { allow: ['ops'] }) },
    },
    async (config) => {
      tokens.alice = await issueToken(config, 'alice', 'ops');
      tokens.bob = await issueToken(config, 'bob', 'nobody');
    },
  );
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await sshd?.stop();
  await pgServer?.stop();
});

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const u32 = (n: number) => ({ u32: n });
const pty = () => wire('xterm', u32(80), u32(24), u32(0), u32(0), Buffer.from([0]));

type Step = (r: RawChannels) => Promise<void>;

/** Opens a session channel; the scenario then sends requests on it. */
async function session(r: RawChannels): Promise<number> {
  const { remote } = await r.open('session');
  if (remote === undefined) throw new Error('the gateway refused a session channel');
  return remote;
}

const scenarios: Record<string, Step> = {
  'exec twice': async (r) => {
    const c = await session(r);
    r.request(c, 'exec', true, wire('sleep 1'));
    r.request(c, 'exec', true, wire('echo second'));
  },
  'exec twice at once, no reply wanted': async (r) => {
    const c = await session(r);
    r.request(c, 'exec', false, wire('true'));
    r.request(c, 'exec', false, wire('true'));
    r.request(c, 'exec', false, wire('true'));
  },
  'shell, then exec, then subsystem': async (r) => {
    const c = await session(r);
    r.request(c, 'shell', true);
    r.request(c, 'exec', true, wire('id'));
    r.request(c, 'subsystem', true, wire('sftp'));
  },
  'subsystem sftp twice': async (r) => {
    const c = await session(r);
    r.request(c, 'subsystem', true, wire('sftp'));
    r.request(c, 'subsystem', true, wire('sftp'));
  },
  'exec after the first has finished': async (r) => {
    const c = await session(r);
    r.request(c, 'exec', true, wire('true'));
    await pause(300);
    r.request(c, 'exec', true, wire('true'));
  },
  'pty-req after shell': async (r) => {
    const c = await session(r);
    r.request(c, 'shell', true);
    r.request(c, 'pty-req', true, pty());
  },
  'window-change before pty, then exec': async (r) => {
    const c = await session(r);
    r.request(c, 'window-change', false, wire(u32(100), u32(40), u32(0), u32(0)));
    r.request(c, 'exec', true, wire('true'));
  },
  'env after shell': async (r) => {
    const c = await session(r);
    r.request(c, 'shell', true);
    r.request(c, 'env', true, wire('LANG', 'C'));
  },
  'unknown subsystem': async (r) => {
    const c = await session(r);
    r.request(c, 'subsystem', true, wire('no-such-subsystem'));
    r.request(c, 'subsystem', true, wire('sftp'));
  },
  'signal before and after exec': async (r) => {
    const c = await session(r);
    r.request(c, 'signal', false, wire('TERM'));
    r.request(c, 'exec', true, wire('sleep 1'));
    r.request(c, 'signal', false, wire('NOT-A-SIGNAL'));
    r.request(c, 'signal', false, wire('KILL'));
  },
  'x11-req and auth-agent-req': async (r) => {
    const c = await session(r);
    r.request(c, 'x11-req', true, wire(false, 'MIT-MAGIC-COOKIE-1', '00', u32(0)));
    r.request(c, 'auth-agent-req@openssh.com', true);
    r.request(c, 'exec', true, wire('true'));
  },
  'unknown and keepalive channel requests': async (r) => {
    const c = await session(r);
    r.request(c, 'keepalive@openssh.com', true);
    r.request(c, 'no-such-request@example.com', true, Buffer.from('junk'));
    r.request(c, 'shell', true);
    r.request(c, 'keepalive@openssh.com', true);
  },
  'malformed request data': async (r) => {
    const c = await session(r);
    r.request(c, 'exec', true, Buffer.from([0, 0]));
    r.request(c, 'pty-req', true, Buffer.from([0xff, 0xff, 0xff, 0xff]));
  },
  'global requests': async (r) => {
    r.global('tcpip-forward', true, wire('127.0.0.1', u32(0)));
    r.global('cancel-tcpip-forward', true, wire('127.0.0.1', u32(0)));
    r.global('keepalive@openssh.com', true);
    r.global('no-such-global@example.com', true, Buffer.from('junk'));
    r.global('streamlocal-forward@openssh.com', true, wire('/tmp/x.sock'));
    r.global('no-more-sessions@openssh.com', true);
    await r.open('session');
  },
  'channel opens of other types': async (r) => {
    for (const type of ['x11', 'forwarded-tcpip', 'auth-agent@openssh.com', 'direct-streamlocal@openssh.com', 'no-such-type']) {
      await r.open(type, wire('127.0.0.1', u32(22), '127.0.0.1', u32(1)));
    }
    await r.open('direct-tcpip', Buffer.from([0, 0, 0]));
  },
  'traffic on channels that do not exist': async (r) => {
    r.data(4242, 'hello');
    r.windowAdjust(4243, 1 << 30);
    r.request(4244, 'exec', true, wire('true'));
    r.eof(4245);
    r.close(4246);
  },
  'close right after exec, then requests on the closed channel': async (r) => {
    const c = await session(r);
    r.request(c, 'exec', true, wire('sleep 1'));
    r.close(c);
    r.request(c, 'exec', true, wire('true'));
    r.data(c, 'late');
  },
  'data and window adjustments before the channel starts, and after it ends': async (r) => {
    const c = await session(r);
    r.data(c, 'early bytes');
    r.windowAdjust(c, 0xffffffff);
    r.windowAdjust(c, 0xffffffff);
    r.request(c, 'exec', true, wire('cat'));
    r.data(c, 'x'.repeat(40_000));
    r.eof(c);
    r.data(c, 'after eof');
    r.request(c, 'signal', false, wire('INT'));
  },
  'many channels opened and closed at once': async (r) => {
    const opened = await Promise.all(Array.from({ length: 14 }, () => r.open('session')));
    for (const o of opened) if (o.remote !== undefined) r.request(o.remote, 'exec', true, wire('true'));
    for (const o of opened) if (o.remote !== undefined) r.close(o.remote);
  },
  'eof before exec': async (r) => {
    const c = await session(r);
    r.eof(c);
    r.request(c, 'exec', true, wire('true'));
    r.request(c, 'shell', true);
  },
};

interface Canary {
  check(): Promise<void>;
  end(): void;
}

async function sshCanary(): Promise<Canary> {
  const client = await gatewayClient(gw.ports.get('ssh')!, 'alice+web-01', { password: tokens.alice! });
  const shell = await new Promise<ClientChannel>((resolve, reject) => client.shell(false, (err, ch) => (err ? reject(err) : resolve(ch))));
  const out = collect(shell);
  let n = 0;
  return {
    async check() {
      shell.write(`echo canary-${++n}\n`);
      await out.waitFor(`canary-${n}`);
    },
    end: () => client.end(),
  };
}

async function pgCanary(): Promise<Canary> {
  const client = new pg.Client({ host: '127.0.0.1', port: gw.ports.get('postgres')!, user: 'alice', password: tokens.alice, database: 'app' });
  client.on('error', () => {});
  await client.connect();
  return {
    async check() {
      const r = await client.query('SELECT 41 + 1 AS n');
      expect(r.rows[0].n).toBe(42);
    },
    end: () => void client.end(),
  };
}

async function runScenario(login: string, password: string, step: Step): Promise<void> {
  let client: Client;
  try {
    client = await gatewayClient(gw.ports.get('ssh')!, login, { password });
  } catch (err) {
    throw new Error(`could not log in as ${login}: ${(err as Error).message}`);
  }
  client.on('error', () => {});
  try {
    await step(new RawChannels(client));
    await pause(400);
  } finally {
    client.end();
  }
}

describe('fuzzing channel and global requests', () => {
  for (const [who, login] of [['an allowed identity', 'alice+web-01'], ['an identity refused the connection', 'bob+web-01']] as const) {
    it(`leaves the gateway and other sessions running, sent by ${who}`, async () => {
      const canaries = [await sshCanary(), await pgCanary()];
      try {
        for (const [name, step] of Object.entries(scenarios)) {
          await runScenario(login, login.startsWith('alice') ? tokens.alice! : tokens.bob!, step);
          expect(gw.alive(), `the gateway exited after "${name}":\n${gw.output().slice(-3000)}`).toBe(true);
        }
        await pause(1_500);
        expect(gw.alive(), gw.output().slice(-3000)).toBe(true);
        for (const c of canaries) await c.check();
        // A new connection still works end to end.
        const fresh = await sshCanary();
        await fresh.check();
        fresh.end();
        expect(gw.output()).not.toMatch(/unhandled promise rejection|handler failed/);
      } finally {
        for (const c of canaries) c.end();
      }
    }, 120_000);
  }
});
