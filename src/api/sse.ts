import type { FastifyInstance, FastifyReply } from 'fastify';

const HEARTBEAT_MS = 15_000;
/** How often a stream's credential is checked again: a revoked or locked caller stops receiving within seconds. */
const RECHECK_MS = 2_000;
/** A client this far behind is dropped; it reconnects with Last-Event-ID and resumes from the store. */
const MAX_BUFFERED = 8 * 1024 * 1024;

/** One Server-Sent Events stream on a hijacked reply (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface SseStream {
  /** Sends one message; false once the stream is closed. */
  send(event: string, data: unknown, id?: number | string): boolean;
  close(): void;
  readonly closed: boolean;
  /** Called once, when the client goes away, the stream is closed, or the gateway stops. */
  onClose(fn: () => void): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Open event streams (decorated on the root, so every plugin's instance shares it). */
    readonly sseStreams: Set<SseStream>;
  }
}

/** Ends every open stream before the server closes, so shutting down never waits on a browser tab. */
export function closeStreamsOnShutdown(app: FastifyInstance): void {
  const set = new Set<SseStream>();
  app.decorate('sseStreams', set);
  app.addHook('preClose', async () => {
    for (const s of [...set]) s.close();
  });
}

/**
 * Takes over the reply and starts an event stream; auth and validation have already run. `stillValid` is asked
 * every RECHECK_MS whether the caller's credential still holds; the stream ends when it does not (the client's
 * reconnection then gets the 401).
 */
export function startSse(app: FastifyInstance, reply: FastifyReply, stillValid?: () => Promise<boolean>): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // Reverse proxies (nginx) would otherwise buffer the stream.
    'x-accel-buffering': 'no',
  });
  res.write(': airlock\n\n');
  const registry = app.sseStreams;
  const closers: (() => void)[] = [];
  let closed = false;
  const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const recheck = stillValid
    ? setInterval(() => void stillValid().then((ok) => ok || stream.close(), () => stream.close()), RECHECK_MS)
    : undefined;
  recheck?.unref();
  const stream: SseStream = {
    get closed() {
      return closed;
    },
    send(event, data, id) {
      if (closed) return false;
      const json = JSON.stringify(data);
      res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${json}\n\n`);
      if (res.writableLength > MAX_BUFFERED) stream.close();
      return !closed;
    },
    close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      clearInterval(recheck);
      registry.delete(stream);
      res.end();
      for (const fn of closers.splice(0)) fn();
    },
    onClose(fn) {
      if (closed) fn();
      else closers.push(fn);
    },
  };
  registry.add(stream);
  res.on('close', () => stream.close());
  res.on('error', () => stream.close());
  return stream;
}
