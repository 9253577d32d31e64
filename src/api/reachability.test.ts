import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Reachability } from './reachability.ts';

let server: Server | undefined;
afterEach(() => server?.close());

async function listening(): Promise<number> {
  server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

describe('reachability probe', () => {
  it('answers from its cache until the entry is stale, then probes again', async () => {
    let now = 1_000;
    const reach = new Reachability(30_000, 1_000, () => now);
    const port = await listening();
    const target = [{ host: '127.0.0.1', port }];
    expect(await reach.check(target, 1_000)).toEqual([{ status: 'up', checkedAt: 1_000 }]);
    await new Promise<void>((r) => server!.close(() => r()));
    now += 29_000;
    expect(await reach.check(target, 1_000)).toEqual([{ status: 'up', checkedAt: 1_000 }]);
    now += 1_000;
    expect(await reach.check(target, 1_000)).toEqual([{ status: 'down', checkedAt: 31_000 }]);
  });

  it('never waits longer than asked: during a slow probe it shows what is known (unknown at first)', async () => {
    // A target that neither accepts nor refuses: the probe runs into its own timeout much later.
    const reach = new Reachability(30_000, 2_000, Date.now, () => new Promise(() => {}));
    const started = performance.now();
    expect(await reach.check([{ host: 'slow.example', port: 5432 }], 50)).toEqual([{ status: 'unknown', checkedAt: null }]);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
