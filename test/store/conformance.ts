import { describe, expect, it } from 'vitest';
import type { Store, StoredEvent } from '../../src/store/types.ts';
import { GENESIS, eventHash, ledgerHash } from '../../src/recording/chain.ts';
import { Frontier, verifyConsistency, verifyInclusion } from '../../src/recording/merkle.ts';
import { consistencyProof, inclusionProof, ledgerLeaf, merkleRoot, syncMerkle } from '../../src/recording/merkle-index.ts';

/**
 * The behaviour every Store backend must show. Each backend's test file calls this with a factory that
 * returns a fresh, empty store.
 */
export function storeConformance(name: string, open: () => Promise<Store>): void {
  describe(`${name} store conformance`, () => {
    it('tokens: insert, get, list, revoke once', async () => {
      const s = await open();
      const t = { id: 't1', subject: 'alice', groups: ['dba'], kind: 'user' as const, secretHash: 'ab'.repeat(32), createdAt: 1, expiresAt: 2, revokedAt: null, description: null, parentId: null, scope: 'all' as const };
      await s.insertToken(t);
      expect(await s.getToken('t1')).toEqual(t);
      expect(await s.getToken('nope')).toBeUndefined();
      expect((await s.listTokens()).map((x) => x.id)).toEqual(['t1']);
      expect(await s.revokeToken('t1', 5)).toBe(true);
      expect(await s.revokeToken('t1', 6)).toBe(false);
      expect((await s.getToken('t1'))?.revokedAt).toBe(5);
      await s.close();
    });

    it('one-time ids: a second use is refused until the first expires', async () => {
      const s = await open();
      expect(await s.useOnce('saml:x', 5_000, 1_000)).toBe(true);
      expect(await s.useOnce('saml:x', 9_000, 4_999)).toBe(false);
      expect(await s.useOnce('saml:y', 5_000, 1_000)).toBe(true);
      expect(await s.useOnce('saml:x', 9_000, 5_000)).toBe(true);
      expect(await s.useOnce('saml:x', 9_000, 8_000)).toBe(false);
      await s.close();
    });

    it('locks and termination requests', async () => {
      const s = await open();
      await s.insertLock({ id: 'l1', subject: 'mallory', reason: 'left', createdBy: 'root', createdAt: 1, expiresAt: 10 });
      await s.insertLock({ id: 'l2', subject: 'eve', reason: null, createdBy: 'root', createdAt: 2, expiresAt: null });
      expect((await s.listLocks()).map((l) => l.id)).toEqual(['l1', 'l2']);
      expect((await s.listLocks({ activeAt: 10 })).map((l) => l.id)).toEqual(['l2']);
      expect(await s.deleteLock('l2')).toBe(true);
      expect(await s.deleteLock('l2')).toBe(false);
      expect(await s.requestTermination({ sessionId: 's1', requestedBy: 'root', reason: 'x', requestedAt: 3 })).toBe(true);
      expect(await s.requestTermination({ sessionId: 's1', requestedBy: 'root', reason: 'y', requestedAt: 4 })).toBe(false);
      expect(await s.pendingTerminations()).toEqual([{ sessionId: 's1', requestedBy: 'root', reason: 'x', requestedAt: 3, doneAt: null }]);
      await s.completeTermination('s1', 5);
      expect(await s.pendingTerminations()).toEqual([]);
      await s.close();
    });

    it('sessions and events: ordered pages, end, filters, search, delete', async () => {
      const s = await open();
      const base = {
        protocol: 'postgres', connection: 'app', groups: ['dba'], kind: 'user' as const, authMethod: 'token', credentialId: null, clientAddress: '127.0.0.1:1',
        application: null, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
      };
      await s.insertSession({ ...base, id: 's1', subject: 'alice', startedAt: 1000 });
      await s.insertSession({ ...base, id: 's2', subject: 'bob', connection: 'other', startedAt: 2000 });
      let prev = GENESIS;
      const events: StoredEvent[] = [];
      for (let seq = 0; seq < 1203; seq++) {
        const e = { sessionId: 's1', seq, time: 1000 + seq, type: 'db.query', data: { text: seq === 7 ? 'DROP TABLE users' : `select ${seq}` } };
        prev = eventHash(prev, e);
        events.push({ ...e, hash: prev, searchText: String(e.data.text), outcome: seq === 7 ? 'denied' : 'allowed' });
      }
      await s.appendEvents(events.slice(0, 600));
      await s.appendEvents(events.slice(600));
      const read: number[] = [];
      for await (const e of s.readEvents('s1')) read.push(e.seq);
      expect(read).toEqual(events.map((e) => e.seq));
      const tail: number[] = [];
      for await (const e of s.readEvents('s1', 1200)) tail.push(e.seq);
      expect(tail).toEqual([1200, 1201, 1202]);
      await expect(s.appendEvents([events[0]])).rejects.toThrow();
      await s.endSession('s1', { endedAt: 3000, endReason: 'client_terminated', bytesIn: 10, bytesOut: 20, eventCount: 1203, lastHash: prev });
      expect(await s.getSession('s1')).toMatchObject({ endReason: 'client_terminated', eventCount: 1203, lastHash: prev });
      expect((await s.listSessions({ user: 'bob' })).map((x) => x.id)).toEqual(['s2']);
      expect((await s.listSessions({ connection: 'app' })).map((x) => x.id)).toEqual(['s1']);
      expect((await s.listSessions({ open: true })).map((x) => x.id)).toEqual(['s2']);
      expect((await s.listSessions({ since: 1500 })).map((x) => x.id)).toEqual(['s2']);
      expect((await s.listSessions({ group: 'dba' })).length).toBe(2);
      const hits = await s.search({ text: 'drop table' });
      expect(hits).toHaveLength(1);
      expect(hits[0]).toMatchObject({ sessionId: 's1', seq: 7, subject: 'alice' });
      expect(await s.search({ text: 'drop table', outcome: 'allowed' })).toHaveLength(0);
      expect(await s.search({ text: 'drop table', user: 'bob' })).toHaveLength(0);
      await s.setLegalHold('s1', true);
      expect((await s.getSession('s1'))?.legalHold).toBe(true);
      await s.deleteSession('s1');
      expect(await s.getSession('s1')).toBeUndefined();
      expect(await s.search({ text: 'drop table' })).toHaveLength(0);
      let left = 0;
      for await (const _ of s.readEvents('s1')) left++;
      expect(left).toBe(0);
      // Giving the space back leaves what is kept as it was.
      expect(await s.reclaimSpace()).toBeGreaterThanOrEqual(0);
      expect((await s.getSession('s2'))?.subject).toBe('bob');
      await s.close();
    });

    it('time-bounded reads: exports and searches find their bounds in recording order', async () => {
      const s = await open();
      const base = {
        protocol: 'postgres', connection: 'app', subject: 'alice', groups: [], kind: 'user' as const, authMethod: 'token', credentialId: null, clientAddress: '127.0.0.1:1',
        application: null, startedAt: 1, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
      };
      const exported = async (since: number, until?: number) => {
        const out: string[] = [];
        for await (const e of s.readEventsSince(since, until)) out.push(`${e.sessionId}/${e.seq}`);
        return out;
      };
      const searched = async (since?: number, until?: number) =>
        (await s.search({ text: 'select', since, until, limit: 10_000 })).map((h) => `${h.sessionId}/${h.seq}`);

      expect(await exported(0)).toEqual([]);
      expect(await exported(0, 10)).toEqual([]);
      expect(await searched(0, 10)).toEqual([]);

      // Two interleaved sessions, runs of 40 equal times; deleting one leaves a hole after every kept id.
      await s.insertSession({ ...base, id: 'keep' });
      await s.insertSession({ ...base, id: 'gone' });
      const kept: { key: string; time: number }[] = [];
      const batch: StoredEvent[] = [];
      for (let i = 0; i < 2400; i++) {
        const sessionId = i % 2 ? 'gone' : 'keep';
        const e = { sessionId, seq: i >> 1, time: 1000 + Math.floor(i / 80), type: 'db.query', data: {}, hash: `h${i}`, searchText: `select ${i}` };
        batch.push(e);
        if (sessionId === 'keep') kept.push({ key: `keep/${e.seq}`, time: e.time });
      }
      await s.appendEvents(batch.slice(0, 1000));
      await s.appendEvents(batch.slice(1000));
      await s.deleteSession('gone');
      const window = (since: number, until: number) => kept.filter((e) => e.time >= since && e.time < until).map((e) => e.key);
      const windows: [number, number][] = [
        [0, 999], // all after the window
        [1030, 2000], // all before it
        [0, 2000], [1000, 1030], // everything, exactly the first and past the last time
        [1007, 1008], [1007, 1007.5], [1006.5, 1007], // exactly one run of equal times; none
        [1007, 1019], [1001.25, 1018.75], [1029, 1030], // boundaries on and between times, the last run
      ];
      for (const [since, until] of windows) {
        expect(await exported(since, until), `${since}..${until}`).toEqual(window(since, until));
        expect(await exported(since), `${since}..`).toEqual(window(since, Infinity));
        // Search bounds are inclusive and its hits newest first.
        const inclusive = kept.filter((e) => e.time >= since && e.time <= until).map((e) => e.key).reverse();
        expect(await searched(since, until), `search ${since}..${until}`).toEqual(inclusive);
      }
      expect(await searched(1029)).toEqual(window(1029, Infinity).reverse());
      expect(await searched(undefined, 1000)).toEqual(window(0, 1001).reverse());
      await s.close();
    });

    it('large payloads (terminal output) round-trip exactly', async () => {
      const s = await open();
      const base = {
        protocol: 'ssh', connection: 'web', subject: 'alice', groups: [], kind: 'user' as const, authMethod: 'ssh-key', credentialId: null, clientAddress: '127.0.0.1:1',
        application: null, startedAt: 1, endedAt: null, endReason: null, bytesIn: 0, bytesOut: 0, eventCount: 0, lastHash: null, legalHold: false,
      };
      await s.insertSession({ ...base, id: 'big' });
      const output = Array.from({ length: 400 }, (_, i) => `\u001b[32m${i}\u001b[0m drwxr-xr-x 2 root root 4096 Nov 24 01:${String(i % 60).padStart(2, '0')} dir${i}\r\n`).join('');
      const data = { stream: 'stdout', data: output, note: 'ünïcödé ✓' };
      const e = { sessionId: 'big', seq: 0, time: 5, type: 'ssh.output', data };
      await s.appendEvents([{ ...e, hash: eventHash(GENESIS, e) }]);
      const back: StoredEvent[] = [];
      for await (const x of s.readEvents('big')) back.push(x);
      expect(back[0].data).toEqual(data);
      expect(back[0].hash).toBe(eventHash(GENESIS, { ...e, data: back[0].data }));
      await s.close();
    });

    it('ledger: hash-linked appends, head, pages', async () => {
      const s = await open();
      for (let i = 0; i < 3; i++) {
        const data = { n: i };
        await s.appendLedger({ kind: 'seal', sessionId: `s${i}`, time: i, data }, (p, seq) => ledgerHash(p, { seq, kind: 'seal', sessionId: `s${i}`, time: i, data }));
      }
      const all = [];
      for await (const e of s.readLedger()) all.push(e);
      expect(all.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect(all[0].prevHash).toBe(GENESIS);
      expect(all[1].prevHash).toBe(all[0].hash);
      expect((await s.ledgerHead())?.seq).toBe(3);
      await s.close();
    });

    it('ledger: the first seal of a session found by its id, never its tombstone', async () => {
      const s = await open();
      const add = (kind: 'seal' | 'tombstone' | 'checkpoint', sessionId: string | null, data: Record<string, unknown>) =>
        s.appendLedger({ kind, sessionId, time: 1, data }, (p, seq) => ledgerHash(p, { seq, kind, sessionId, time: 1, data }));
      expect(await s.findSeal('s1')).toBeUndefined();
      await add('seal', 's0', { n: 0 });
      const first = await add('seal', 's1', { n: 1 });
      await add('checkpoint', null, { n: 2 });
      await add('seal', 's1', { n: 3 });
      await add('tombstone', 's1', { n: 4 });
      await add('tombstone', 's2', { n: 5 });
      expect(await s.findSeal('s1')).toEqual(first);
      expect(await s.findSeal('s2')).toBeUndefined();
      expect(await s.findSeal('nope')).toBeUndefined();
      await s.close();
    });

    it('merkle nodes: stored once, looked up by level and index, leaves counted', async () => {
      const s = await open();
      const h = (b: number) => Buffer.alloc(32, b);
      expect(await s.merkleLeafCount()).toBe(0);
      await s.putMerkleNodes([{ level: 0, index: 0, hash: h(1) }, { level: 0, index: 1, hash: h(2) }, { level: 1, index: 0, hash: h(3) }]);
      await s.putMerkleNodes([{ level: 0, index: 1, hash: h(9) }]);
      expect(await s.getMerkleNodes([{ level: 1, index: 0 }, { level: 0, index: 1 }, { level: 0, index: 2 }])).toEqual([h(3), h(2), undefined]);
      expect(await s.merkleLeafCount()).toBe(2);
      await s.close();
    });

    it('ledger merkle tree: indexed incrementally, roots and proofs match the entries', async () => {
      const s = await open();
      const append = async (n: number) => {
        for (let i = 0; i < n; i++) {
          const data = { finalHash: 'ab'.repeat(32), i };
          await s.appendLedger({ kind: 'seal', sessionId: `s${i}`, time: 1000 + i, data }, (p, seq) => ledgerHash(p, { seq, kind: 'seal', sessionId: `s${i}`, time: 1000 + i, data }));
        }
      };
      await append(1203); // more than a page of the ledger
      expect(await syncMerkle(s, 700)).toBe(700);
      expect(await s.merkleLeafCount()).toBe(700);
      await append(10);
      expect(await syncMerkle(s)).toBe(1213);
      const f = new Frontier();
      const roots: Buffer[] = [f.root()];
      const leaves: Buffer[] = [];
      for await (const e of s.readLedger()) {
        leaves.push(ledgerLeaf(e));
        f.push(leaves.at(-1)!);
        roots.push(f.root());
      }
      expect(await merkleRoot(s, 1213)).toEqual(roots[1213]);
      expect(await merkleRoot(s, 700)).toEqual(roots[700]);
      for (const seq of [1, 2, 512, 700, 1213]) {
        expect(verifyInclusion(seq - 1, 1213, leaves[seq - 1], await inclusionProof(s, seq, 1213), roots[1213])).toBe(true);
      }
      expect(verifyConsistency(700, 1213, roots[700], roots[1213], await consistencyProof(s, 700, 1213))).toBe(true);
      expect(verifyConsistency(3, 1213, roots[3], roots[1213], await consistencyProof(s, 3, 1213))).toBe(true);
      await s.close();
    });

    it('reviews: single decision, windows, audit', async () => {
      const s = await open();
      const r = {
        id: 'r1', kind: 'command' as const, sessionId: 's', connection: 'app', requester: 'alice', requesterKind: 'user' as const, requesterGroups: ['dba'],
        text: 'update t', textHash: 'h', rule: 'x', approvers: ['leads'], status: 'pending' as const, createdAt: 1, expiresAt: 10, decidedAt: null, reviewer: null,
        reason: null, validUntil: null,
      };
      await s.insertReview(r);
      expect(await s.decideReview('r1', { status: 'approved', decidedAt: 2, reviewer: 'lena', reason: null, validUntil: 100 })).toBe(true);
      expect(await s.decideReview('r1', { status: 'denied', decidedAt: 3, reviewer: 'x', reason: null, validUntil: null })).toBe(false);
      expect(await s.findValidApproval({ kind: 'command', connection: 'app', requester: 'alice', textHash: 'h', now: 50 })).toMatchObject({ id: 'r1' });
      expect(await s.findValidApproval({ kind: 'command', connection: 'app', requester: 'alice', textHash: 'h', now: 150 })).toBeUndefined();
      expect(await s.findValidApproval({ kind: 'command', connection: 'app', requester: 'bob', textHash: 'h', now: 50 })).toBeUndefined();
      await s.appendAudit({ time: 1, subject: 'sam', action: 'session.view', target: 's', detail: {} });
      expect(await s.listAudit({ target: 's' })).toHaveLength(1);
      await s.close();
    });
  });
}
