import net from 'node:net';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Used in the timeout error message. */
  description?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Poll `fn` until it returns a truthy value and return that value.
 * Exceptions thrown by `fn` count as "not yet"; the last one is reported on timeout.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.description ?? 'condition';
      const why = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`waitFor: timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(intervalMs);
  }
}

/** Resolve true if a TCP connection to host:port succeeds, false otherwise. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      sock.removeAllListeners();
      sock.on('error', () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Wait until something accepts TCP connections on host:port. */
export async function waitForPort(
  port: number,
  opts: WaitOptions & { host?: string } = {},
): Promise<void> {
  const host = opts.host ?? '127.0.0.1';
  await waitFor(() => canConnect(port, host), {
    timeoutMs: opts.timeoutMs ?? 15_000,
    intervalMs: opts.intervalMs ?? 50,
    description: opts.description ?? `${host}:${port} to accept connections`,
  });
}
