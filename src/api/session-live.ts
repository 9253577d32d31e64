import type { FastifyPluginAsync } from 'fastify';
import type { SessionRecord, StoredEvent } from '../store/types.ts';
import type { ApiContext } from './context.ts';
import { eventStreamDoc, idParam } from './schemas.ts';
import { publicEvent, visibleSession } from './sessions.ts';
import { startSse } from './sse.ts';

/** Store polling: how a session recorded by another gateway instance reaches its viewers. */
const POLL_MS = 1000;
/** The session record is updated just after its session.end event is written. */
const END_WAIT_MS = 2000;

/**
 * Live tail of a session over Server-Sent Events: the recorded events from `from` (or Last-Event-ID + 1),
 * then each new one as the recorder writes it (pushed in-process, or found by polling the store), then
 * `event: end` with the session once it has ended. Every event is sent once and in seq order: a push that
 * does not follow the last seq sent makes the stream catch up from the store first.
 */
export function sessionLiveRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/sessions/:id/live',
      {
        config: { roles: ['user'] },
        schema: {
          description:
            'Server-Sent Events: `event: event` (id = seq, data = the event JSON) from `from` or Last-Event-ID, then live; `event: end` (data = the session) when it ends; heartbeat comments every 15 s. Audited as session.view.',
          params: idParam,
          querystring: { type: 'object', additionalProperties: false, properties: { from: { type: 'integer', minimum: 0 } } },
          headers: { type: 'object', properties: { 'last-event-id': { type: 'string', pattern: '^\\d{1,15}$' } } },
          returns: eventStreamDoc,
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const lastId = req.headers['last-event-id'];
        const from = typeof lastId === 'string' ? Number(lastId) + 1 : ((req.query as { from?: number }).from ?? 0);
        const caller = req.caller!;
        await visibleSession(ctx, caller, id);
        await ctx.store.appendAudit({ time: Date.now(), subject: caller.identity.subject, action: 'session.view', target: id, detail: { from, via: 'live' } });

        const stream = startSse(app, reply, req.caller!.stillValid);
        let next = from;
        let ended = false;
        /** Pushes that arrived while the store was being read. */
        let held: StoredEvent[] | undefined;
        let reading: Promise<void> | undefined;

        const send = (e: StoredEvent) => {
          if (ended || e.seq !== next) return;
          stream.send('event', publicEvent(e), e.seq);
          next = e.seq + 1;
          if (e.type === 'session.end') void finish();
        };
        const catchUp = (): Promise<void> =>
          (reading ??= (async () => {
            held = [];
            try {
              for await (const e of ctx.store.readEvents(id, next)) {
                if (stream.closed || ended) break;
                send(e);
              }
              const pushed = held;
              held = undefined;
              for (const e of pushed) send(e);
              if (!ended && pushed.length === 0) {
                // Ended elsewhere and every event already sent (or `from` is past the end), or purged meanwhile.
                const s = await ctx.store.getSession(id);
                if (!s || (s.endedAt !== null && next >= s.eventCount)) await finish(s ?? null);
              }
            } catch (err) {
              ctx.log.warn({ session: id, err: (err as Error).message }, 'live tail: store read failed; retrying');
            } finally {
              held = undefined;
              reading = undefined;
            }
          })());
        const finish = async (known?: SessionRecord | null) => {
          if (ended) return;
          ended = true;
          if (known === null) {
            stream.send('end', null);
            return stream.close();
          }
          let session = known ?? (await ctx.store.getSession(id).catch(() => undefined));
          for (const until = Date.now() + END_WAIT_MS; session?.endedAt == null && Date.now() < until && !stream.closed; ) {
            await new Promise((r) => setTimeout(r, 20));
            session = await ctx.store.getSession(id).catch(() => undefined);
          }
          stream.send('end', session ?? null);
          stream.close();
        };

        const unsubscribe = ctx.live.onSession(id, (events) => {
          if (held) held.push(...events);
          else if (events[0].seq === next) events.forEach(send);
          else if (events[0].seq > next) void catchUp();
        });
        const poll = setInterval(() => void catchUp(), POLL_MS);
        stream.onClose(() => {
          clearInterval(poll);
          unsubscribe();
        });
        await catchUp();
      },
    );
  };
}
