import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientChannel } from 'ssh2';
import type { TestGateway } from '../harness/gateway.ts';
import { smallDiskForTests } from '../harness/small-disk.ts';
import { waitFor } from '../harness/wait.ts';
import { verifyStore } from '../../src/recording/verify.ts';
import { endedSession, gatewayClient, sessionEvents, webGatewayForAlice, type ClientKey, type WebGateway } from './helpers.ts';

// The gateway's data dir on a 32 MiB tmpfs that the test fills up while a terminal prints: SQLite gets ENOSPC.
const { disk, skip } = smallDiskForTests(32, 'ssh full-disk test');

/** What the recording may hold back before a terminal's output is held (small, so the test reaches it soon). */
const BACKLOG = 1024 * 1024;

/** Printed last; it cannot occur in base64 (a word such as "done" turns up in 12 MB of it about once in eight runs). */
const END = '[end]';

/** Written by the test once the disk is full; the command on the target waits for it to print the rest. */
const marker = `/tmp/airlock-full-disk-${randomBytes(4).toString('hex')}`;

let web: WebGateway | undefined;
let gw: TestGateway;
let alice: ClientKey;

beforeAll(async () => {
  if (skip) return;
  web = await webGatewayForAlice({}, { parentDir: disk!.dir, recorder: { maxBacklogChars: BACKLOG } });
  ({ gw, alice } = web);
});

afterAll(async () => {
  await web?.stop();
  disk?.unmount();
  rmSync(marker, { force: true });
});

describe.skipIf(skip !== undefined)('a full disk under a terminal session', () => {
  it('holds the output while the recording cannot be written, then delivers and records all of it', async () => {
    const small = disk!;
    const since = Date.now();
    const client = await gatewayClient(gw.sshPort, 'alice+web-01', { privateKey: readFileSync(alice.file, 'utf8') });
    // 9 MB of random bytes as one 12 MB base64 line on a terminal (recorded whole, and barely compressible). The
    // first megabyte, then the rest once the disk is full (the command waits for a marker file the test writes).
    const command = `head -c 750000 /dev/urandom | base64 -w 0; while [ ! -e ${marker} ]; do sleep 0.05; done; head -c 8250000 /dev/urandom | base64 -w 0; echo; echo '${END}'`;
    const ch = await new Promise<ClientChannel>((resolve, reject) =>
      client.exec(command, { pty: true }, (err, c) => (err ? reject(err) : resolve(c))),
    );
    let received = '';
    ch.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const exited = new Promise<number>((resolve) => ch.on('exit', (code: number) => resolve(code)));
    await waitFor(() => received.length >= 1_000_000, { timeoutMs: 20_000, description: 'the first megabyte' });

    small.fill();
    writeFileSync(marker, '');
    // The store fails, the backlog reaches its limit and the output stops: no growth for a second.
    await waitFor(() => !gw.gw.recorder.healthy, { timeoutMs: 20_000, description: 'the recorder to fall behind' });
    let last = -1;
    await waitFor(
      async () => {
        const now = received.length;
        const still = now === last;
        last = now;
        await new Promise((r) => setTimeout(r, 1000));
        return still && received.length === now;
      },
      { timeoutMs: 30_000, description: 'the output to be held' },
    );
    expect(received).not.toContain(END);
    // What waits in memory stays near the limit (one more coalesced output event at most), not the 12 MB.
    expect(gw.gw.recorder.backlog).toBeLessThan(BACKLOG + 512 * 1024);

    small.free();
    expect(await exited).toBe(0);
    await waitFor(() => received.includes(END), { timeoutMs: 20_000, description: 'the rest of the output' });
    client.end();

    const s = await endedSession(gw.gw.store, 'alice', since, 30_000);
    const recorded = (await sessionEvents(gw.gw.store, s.id))
      .filter((e) => e.type === 'ssh.output' && e.data.stream === 'stdout')
      .map((e) => String(e.data.data))
      .join('');
    const line = received.slice(0, received.indexOf('\r\n'));
    expect(line.length).toBe(12_000_000);
    expect(/[^A-Za-z0-9+/]/.test(line)).toBe(false);
    expect(recorded).toBe(received);
    expect((await verifyStore(gw.gw.store, gw.gw.keys.keys)).breaks).toEqual([]);
  });
});
