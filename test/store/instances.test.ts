import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.ts';
import { InstanceLeaseHolder, leaseIsLive } from '../../src/server/instance-lease.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import type { InstanceLease, SessionRecord } from '../../src/store/types.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(): SqliteStore {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-lease-'));
  dirs.push(dir);
  return new SqliteStore(join(dir, 'airlock.db'), { writerThread: false });
}

const lease = (over: Partial<InstanceLease>): InstanceLease => ({
  id: 'gw_other', host: 'elsewhere', pid: 1, startedAt: 0, heartbeatAt: Date.now(), expiresAt: Date.now() + 30_000, ...over,
});

const session = (id: string): SessionRecord => ({
  id, protocol: 'postgres', connection: 'db', subject: 'alice', groups: [], kind: 'user', authMethod: 'token', credentialId: null,
  clientAddress: '127.0.0.1:1', application: null, startedAt: Date.now(), endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0,
  eventCount: 0, lastHash: null, legalHold: false,
});

describe('instance leases', () => {
  it('a lease is live until it expires; on this host, only while its process exists', () => {
    expect(leaseIsLive(lease({}))).toBe(true);
    expect(leaseIsLive(lease({ expiresAt: Date.now() - 1 }))).toBe(false);
    expect(leaseIsLive(lease({ host: hostname(), pid: process.pid }))).toBe(true);
    expect(leaseIsLive(lease({ host: hostname(), pid: 2 ** 22 + 12345 }))).toBe(false);
  });

  it('an exclusive claim is refused while another instance is live, and taken over once its lease expired', async () => {
    const s = store();
    await s.claimInstance(lease({}), () => true, true);
    await expect(InstanceLeaseHolder.claim(s, { exclusive: true, log: silentLogger, where: 'data dir X' })).rejects.toThrow(
      /data dir X is in use by another gateway \(instance gw_other, pid 1 on elsewhere/,
    );
    expect((await s.listInstances()).map((l) => l.id)).toEqual(['gw_other']);

    // The other host's gateway stopped renewing: past its expiry it is gone.
    await s.renewInstance('gw_other', 0, Date.now() - 1);
    const mine = await InstanceLeaseHolder.claim(s, { exclusive: true, log: silentLogger, where: 'data dir X' });
    expect((await s.listInstances()).map((l) => l.id)).toEqual([mine.id]);
    await mine.release();
    await s.close();
  });

  it('recovery judges each open session by its owner: a live owner keeps it, a gone or unknown one does not', async () => {
    const s = store();
    await s.claimInstance(lease({ id: 'gw_live' }), () => true, false);
    const mine = await InstanceLeaseHolder.claim(s, { exclusive: false, log: silentLogger, where: 'the store' });
    await s.insertSession(session('ses_live'), 'gw_live');
    await s.insertSession(session('ses_gone'), 'gw_gone');
    await s.insertSession(session('ses_old'));
    expect((await s.openSessionOwners()).map((o) => o.instanceId)).toEqual(['gw_live', 'gw_gone', null]);
    const gone = await mine.goneOwners();
    expect(gone('gw_live')).toBe(false);
    expect(gone(mine.id)).toBe(false);
    expect(gone('gw_gone')).toBe(true);
    // Sessions recorded before instances were tracked: only when no other gateway is live.
    expect(gone(null)).toBe(false);
    await s.releaseInstance('gw_live');
    expect((await mine.goneOwners())(null)).toBe(true);
    await mine.release();
    await s.close();
  });

  it('a lease another instance dropped is lost at the next heartbeat, and the holder is told', async () => {
    const s = store();
    const mine = await InstanceLeaseHolder.claim(s, { exclusive: true, log: silentLogger, where: 'X', timing: { ttlMs: 1000, renewMs: 20 } });
    const lost = new Promise<string>((resolve) => (mine.onLost = resolve));
    await s.releaseInstance(mine.id);
    expect(await lost).toMatch(/lease on the store \(instance gw_\w+\) was taken over/);
    await s.close();
  });
});
