import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TestGateway } from '../harness/gateway.ts';
import { waitFor } from '../harness/wait.ts';
import { verifySession } from '../../src/recording/verify-session.ts';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { endedSession, sessionEvents, ssh, webGatewayForAlice, type ClientKey, type WebGateway } from './helpers.ts';

let web: WebGateway;
let gw: TestGateway;
let alice: ClientKey;

beforeAll(async () => {
  web = await webGatewayForAlice({
    forensics: { compactAfter: '0s' },
    recording: { maxRows: 100, maxBytes: 1024 * 1024 }, // an exec's output is recorded whole up to this
  });
  ({ gw, alice } = web);
});

afterAll(() => web?.stop());

it('the gateway compacts an ended session with forensics.compactAfter, and it replays and verifies the same', async () => {
  const since = Date.now();
  const r = await ssh(gw, alice, 'alice+web-01', ['seq 1 100000']);
  expect(r.code).toBe(0);
  const s = await endedSession(gw.gw.store, 'alice', since);
  const db = (gw.gw.store as SqliteStore).db;
  await waitFor(() => db.prepare('SELECT compacted_at FROM sessions WHERE id = ?').pluck().get(s.id), { timeoutMs: 20_000, description: 'the session to be compacted' });
  expect(db.prepare("SELECT count(*) FROM events WHERE session_id = ? AND type = 'ssh.output' AND block IS NULL").pluck().get(s.id)).toBe(0);
  const output = (await sessionEvents(gw.gw.store, s.id)).filter((e) => e.type === 'ssh.output').map((e) => e.data.data).join('');
  expect(output).toBe(r.stdout);
  expect((await verifySession(gw.gw.store, gw.gw.keys.keys, s.id)).ok).toBe(true);
});
