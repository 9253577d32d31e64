import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { forensics, type Forensics } from '../../test/forensics/fixtures.ts';
import { parseConfig } from '../config/load.ts';
import { silentLogger } from '../core/logger.ts';
import { purgeExpired, startRetention } from './retention.ts';
import { verifyStore } from './verify.ts';

let f: Forensics;
beforeEach(() => {
  f = forensics();
});
afterEach(async () => {
  await f.cleanup();
});

const pg = { type: 'postgres', host: '127.0.0.1', database: 'app', user: 'app' };
const config = parseConfig({ connections: { short: { ...pg, retention: '1d' }, long: { ...pg, retention: '90d' }, forever: pg } }, '/');
const DAY = 86_400_000;

describe('retention', () => {
  it('purges expired sessions behind signed tombstones; the ledger still verifies', async () => {
    const expired = [await f.session({ connection: 'short' }), await f.session({ connection: 'short' })];
    const kept = [await f.session({ connection: 'long' }), await f.session({ connection: 'forever' }), await f.session({ connection: 'short', open: true })];
    const r = await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    expect(r.purged.sort()).toEqual([...expired].sort());
    expect(r.skipped).toEqual([]);
    for (const id of expired) expect(await f.store.getSession(id)).toBeUndefined();
    for (const id of kept) expect(await f.store.getSession(id)).toBeDefined();
    expect(f.store.db.prepare('SELECT count(*) AS n FROM events WHERE session_id IN (?, ?)').get(...expired)).toEqual({ n: 0 });

    const tomb = f.store.db.prepare("SELECT * FROM ledger WHERE kind = 'tombstone' AND session_id = ?").get(expired[0]) as Record<string, unknown>;
    const seal = f.store.db.prepare("SELECT hash FROM ledger WHERE kind = 'seal' AND session_id = ?").get(expired[0]) as { hash: string };
    expect(JSON.parse(String(tomb.data))).toMatchObject({ sessionId: expired[0], sealHash: seal.hash, policy: '1d', keyId: f.keys.current.keyId });

    const v = await verifyStore(f.store, f.keys.keys);
    expect(v.breaks).toEqual([]);
    expect(v.checked).toMatchObject({ sessions: 3, purgedSessions: 2, openSessions: 1 });
    // Nothing more to do on a second run.
    expect((await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY)).purged).toEqual([]);
  });

  it('removes what was recorded about a purged session everywhere: its reviews (their text) and audit rows', async () => {
    const gone = await f.session({ connection: 'short' });
    const kept = await f.session({ connection: 'long' });
    const review = (id: string, sessionId: string) => ({
      id, kind: 'command' as const, sessionId, connection: 'short', requester: 'alice', requesterKind: 'user' as const, requesterGroups: ['dba'],
      text: "delete from users where email = 'x'", textHash: null, rule: 'writes', approvers: ['leads'], status: 'approved' as const,
      createdAt: 1, expiresAt: 2, decidedAt: 2, reviewer: 'bob', reason: null, validUntil: null,
    });
    await f.store.insertReview(review('r-gone', gone));
    await f.store.insertReview(review('r-kept', kept));
    for (const target of [gone, kept]) await f.store.appendAudit({ time: 1, subject: 'sam', action: 'session.view', target, detail: {} });
    await f.store.appendAudit({ time: 1, subject: 'bob', action: 'review.approve', target: 'r-gone', detail: { rule: 'writes' } });
    await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    expect((await f.store.listReviews()).map((r) => r.id)).toEqual(['r-kept']);
    expect(await f.store.getReview('r-gone')).toBeUndefined();
    expect(await f.store.listAudit({ target: gone })).toEqual([]);
    expect(await f.store.listAudit({ target: 'r-gone' })).toEqual([]);
    expect(await f.store.listAudit({ target: kept })).toHaveLength(1);
    expect(f.store.db.prepare("SELECT count(*) AS n FROM ledger WHERE kind = 'tombstone' AND session_id = ?").get(gone)).toEqual({ n: 1 });
    // The purge itself is audited, without naming what it removed.
    expect((await f.store.listAudit({ subject: 'airlock:retention' })).map((a) => [a.action, a.detail])).toEqual([['retention.purge', { sessions: 1, kept: 0 }]]);
  });

  it('gives the purged sessions\' space back to the file system', async () => {
    await f.session({ connection: 'short', queries: 3000 });
    await f.session({ connection: 'long', queries: 10 });
    const pages = () => f.store.db.pragma('page_count', { simple: true }) as number;
    const before = pages();
    const r = await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    expect(r.purged).toHaveLength(1);
    expect(r.reclaimedBytes).toBeGreaterThan(0);
    expect(pages()).toBeLessThan(before);
    expect(f.store.db.pragma('freelist_count', { simple: true })).toBe(0);
    // Nothing purged, nothing to give back.
    expect((await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY)).reclaimedBytes).toBe(0);
  });

  it('keeps a session on legal hold', async () => {
    const held = await f.session({ connection: 'short' });
    const gone = await f.session({ connection: 'short' });
    await f.store.setLegalHold(held, true);
    const r = await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    expect(r.purged).toEqual([gone]);
    expect(r.skipped).toEqual([{ sessionId: held, reason: 'legal hold' }]);
    expect(await f.store.getSession(held)).toBeDefined();
    expect((await verifyStore(f.store, f.keys.keys)).breaks).toEqual([]);
    await f.store.setLegalHold(held, false);
    expect((await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY)).purged).toEqual([held]);
  });

  it('does not purge before the retention period is over', async () => {
    await f.session({ connection: 'short' });
    expect((await purgeExpired(f.store, f.keys, config, Date.now() + DAY / 2)).purged).toEqual([]);
  });

  it('finishes a purge interrupted after the tombstone, without a second tombstone', async () => {
    const id = await f.session({ connection: 'short' });
    await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    // Simulate the crash: the tombstone is written, the session came back (restored from a backup, say).
    const again = await f.session({ connection: 'short' });
    f.store.db.prepare('UPDATE sessions SET id = ? WHERE id = ?').run(id, again);
    f.store.db.prepare('UPDATE events SET session_id = ?, session_key = (SELECT key FROM sessions WHERE id = ?) WHERE session_id = ?').run(id, id, again);
    const v = await verifyStore(f.store, f.keys.keys);
    expect(v.breaks).toContainEqual(expect.objectContaining({ sessionId: id, what: expect.stringMatching(/tombstoned .* still in the store/) }));
    await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    expect(f.store.db.prepare("SELECT count(*) AS n FROM ledger WHERE kind = 'tombstone' AND session_id = ?").get(id)).toEqual({ n: 1 });
    expect(await f.store.getSession(id)).toBeUndefined();
  });

  it('names a tombstone whose signature was forged', async () => {
    const id = await f.session({ connection: 'short' });
    await purgeExpired(f.store, f.keys, config, Date.now() + 2 * DAY);
    f.store.db.prepare("UPDATE ledger SET data = json_set(data, '$.policy', '1h') WHERE kind = 'tombstone'").run();
    const v = await verifyStore(f.store, f.keys.keys);
    expect(v.breaks).toContainEqual({ sessionId: id, seq: null, ledgerSeq: 2, what: expect.stringMatching(/^tombstone: signature invalid/) });
  });

  it('runs periodically and stops', async () => {
    const id = await f.session({ connection: 'short' });
    f.store.db.prepare('UPDATE sessions SET ended_at = ended_at - ? WHERE id = ?').run(2 * DAY, id);
    const stop = startRetention({ store: f.store, keys: f.keys, config, intervalMs: 10, firstRunMs: 5, log: silentLogger });
    for (let i = 0; i < 100 && (await f.store.getSession(id)); i++) await new Promise((r) => setTimeout(r, 10));
    await stop();
    expect(await f.store.getSession(id)).toBeUndefined();
  });
});
