import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { parseInstant } from '../core/duration.ts';
import { streamEvents } from '../recording/events-export.ts';
import { verifyStore } from '../recording/verify.ts';
import type { ApiContext } from './context.ts';

/** The event stream for SIEMs and store verification: auditors and admins only. */
export function evidenceRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/events', { config: { roles: ['auditor', 'admin'] }, schema: { description: 'Events as JSON Lines (?since=1h&until=…&format=jsonl|ocsf), streamed' } }, async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const format = q.format === 'ocsf' ? 'ocsf' : 'jsonl';
      const since = q.since ? parseInstant(q.since, Date.now(), 'since') : Date.now() - 3600_000;
      const until = q.until ? parseInstant(q.until, Date.now(), 'until') : undefined;
      await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'events.export', target: null, detail: { since, until: until ?? null, format } });
      const lines = streamEvents(ctx.store, { since, until, format });
      const body = Readable.from((async function* () {
        for await (const line of lines) yield `${line}\n`;
      })());
      return reply.type('application/x-ndjson').send(body);
    });

    app.get('/api/verify', { config: { roles: ['auditor', 'admin'] }, schema: { description: 'Verify chains, seals and the ledger' } }, async (req) => {
      const report = await verifyStore(ctx.store, ctx.publicKeys());
      await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'store.verify', target: null, detail: { breaks: report.breaks.length } });
      return report;
    });
  };
}
