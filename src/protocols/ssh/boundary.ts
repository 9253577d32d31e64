import type { Connection } from 'ssh2';
import type { Logger } from '../../core/logger.ts';

/**
 * The error boundary of one client connection. Every asynchronous handler the connection starts runs
 * through it: whatever the client sent, a failure ends that connection (and only it), logged as the bug
 * it is. ssh2 already turns a synchronous throw in a handler into an `error` on the connection and ends
 * its socket; this does the same for the promises the handlers leave behind.
 */
export type Boundary = (work: Promise<unknown>, what: string) => void;

export function connectionBoundary(client: Connection, log: Logger, clientAddress: string, onFault?: (what: string, err: Error) => void): Boundary {
  let faulted = false;
  return (work, what) => {
    work.catch((err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      log.error({ client: clientAddress, what, err: e.message, stack: e.stack }, 'ssh handler failed; ending this connection');
      if (faulted) return;
      faulted = true;
      try {
        onFault?.(what, e);
      } catch (inner) {
        log.error({ client: clientAddress, err: (inner as Error).message }, 'ssh connection fault handler failed');
      }
      client.end();
    });
  };
}
