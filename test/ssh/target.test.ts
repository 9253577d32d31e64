import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.ts';
import { startSshd, type SshdServer } from '../harness/sshd.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { freePort } from '../harness/ports.ts';
import { waitFor } from '../harness/wait.ts';
import { parsePublicKey } from '../../src/protocols/ssh/keys.ts';
import { descendantPids, endedSession, makeClientKey, registerKey, sessionEvents, signalAll, ssh, sshConnection, type ClientKey } from './helpers.ts';

let pinned: SshdServer;
let tofu: SshdServer;
let doomed: SshdServer;
let gw: TestGateway;
let key: ClientKey;
let other: ClientKey;

beforeAll(async () => {
  [pinned, tofu, doomed] = await Promise.all([startSshd(), startSshd(), startSshd()]);
  [key, other] = await Promise.all([makeClientKey(), makeClientKey('not-a-host-key')]);
  gw = await startGateway({
    listen: { ssh: '127.0.0.1:0' },
    connections: {
      'pinned-ok': await sshConnection(pinned, { hostKey: pinned.hostPublicKey }),
      'pinned-bad': await sshConnection(pinned, { hostKey: other.publicKey }),
      tofu: await sshConnection(tofu),
      doomed: await sshConnection(doomed),
      nowhere: { ...(await sshConnection(pinned)), port: await freePort() },
    },
  });
  await registerKey(gw.gw.store, key, 'alice', ['ops']);
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([pinned, tofu, doomed].map((s) => s?.stop()));
  await Promise.all([key, other].map((k) => k?.remove()));
});

describe('the target side', () => {
  it('connects when the target presents the configured host key', async () => {
    const since = Date.now();
    expect(await ssh(gw, key, 'alice+pinned-ok', ['echo ok'])).toMatchObject({ code: 0, stdout: 'ok\n' });
    const events = await sessionEvents(gw.gw.store, (await endedSession(gw.gw.store, 'alice', since)).id);
    expect(events.find((e) => e.type === 'ssh.target')?.data).toMatchObject({ trust: 'config', hostKey: parsePublicKey(pinned.hostPublicKey).fingerprint });
  });

  it('refuses a target whose host key does not match the configured one, and records it', async () => {
    const since = Date.now();
    const r = await ssh(gw, key, 'alice+pinned-bad', ['echo should-not-run']);
    expect(r.code).toBe(255);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Airlock: the host key of pinned-bad');
    expect(r.stderr).toContain('does not match the configured hostKey');
    const s = await endedSession(gw.gw.store, 'alice', since);
    expect(s.endReason).toBe('target_host_key_mismatch');
    const events = await sessionEvents(gw.gw.store, s.id);
    expect(events.find((e) => e.type === 'ssh.hostkey_mismatch')?.data).toMatchObject({
      expected: parsePublicKey(other.publicKey).fingerprint, presented: parsePublicKey(pinned.hostPublicKey).fingerprint, source: 'config',
    });
  });

  it('trusts a new target on first use, then refuses a different key for it', async () => {
    const target = `${tofu.host}:${tofu.port}`;
    expect(await ssh(gw, key, 'alice+tofu', ['true'])).toMatchObject({ code: 0 });
    const first = await gw.gw.store.getSshHostKey(target);
    expect(first).toMatchObject({ fingerprint: parsePublicKey(tofu.hostPublicKey).fingerprint, connection: 'tofu' });
    expect(await ssh(gw, key, 'alice+tofu', ['true'])).toMatchObject({ code: 0 });
    // The target now "presents another key": what the gateway pinned no longer matches.
    await gw.gw.store.deleteSshHostKey(target);
    const fake = parsePublicKey(other.publicKey);
    await gw.gw.store.pinSshHostKey({ target, publicKey: fake.line, fingerprint: fake.fingerprint, firstSeenAt: Date.now(), connection: 'tofu' });
    const since = Date.now();
    const r = await ssh(gw, key, 'alice+tofu', ['true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('does not match the key pinned at first use');
    expect((await endedSession(gw.gw.store, 'alice', since)).endReason).toBe('target_host_key_mismatch');
  });

  it('reports an unreachable target', async () => {
    const since = Date.now();
    const r = await ssh(gw, key, 'alice+nowhere', ['true']);
    expect(r.code).toBe(255);
    expect(r.stderr).toMatch(/Airlock: cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/);
    expect((await endedSession(gw.gw.store, 'alice', since)).endReason).toBe('target_unavailable');
  });

  it('closes the client channel and records why when the target dies mid-session', async () => {
    const since = Date.now();
    const pending = ssh(gw, key, 'alice+doomed', ['echo started; sleep 30; echo not-reached']);
    await waitFor(async () => {
      const [s] = await gw.gw.store.listSessions({ user: 'alice', connection: 'doomed', since });
      return s && (await sessionEvents(gw.gw.store, s.id)).some((e) => e.type === 'ssh.output');
    }, { description: 'the command to start' });
    const sessionProcs = await descendantPids(doomed.pid);
    await doomed.stop();
    signalAll(sessionProcs, 'SIGKILL');
    const r = await pending;
    expect(r.stdout).toBe('started\n');
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Airlock: ');
    const s = await endedSession(gw.gw.store, 'alice', since);
    expect(s.endReason).toMatch(/^target_(disconnected|error)/);
    const events = await sessionEvents(gw.gw.store, s.id);
    expect(events.find((e) => e.type === 'ssh.exit')?.data).toMatchObject({ code: 255 });
  });

  it('tells clients the gateway is shutting down and seals their sessions', async () => {
    const gw2 = await startGateway({ listen: { ssh: '127.0.0.1:0' }, connections: { 'pinned-ok': await sshConnection(pinned, { hostKey: pinned.hostPublicKey }) } });
    await registerKey(gw2.gw.store, key, 'alice', ['ops']);
    const pending = ssh(gw2, key, 'alice+pinned-ok', ['echo started; sleep 30']);
    await waitFor(async () => {
      const [s] = await gw2.gw.store.listSessions({ user: 'alice' });
      return s && (await sessionEvents(gw2.gw.store, s.id)).some((e) => e.type === 'ssh.output');
    }, { description: 'the command to start' });
    await gw2.gw.stop();
    const r = await pending;
    expect(r.code).toBe(255);
    expect(r.stderr).toContain('Airlock: the gateway is shutting down');
    const store = openStore(gw2.dataDir);
    try {
      const [s] = await store.listSessions({ user: 'alice' });
      expect(s.endReason).toBe('gateway_shutdown');
    } finally {
      await store.close();
      rmSync(gw2.dataDir, { recursive: true, force: true });
    }
  });
});
