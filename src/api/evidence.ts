import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { parseInstant } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { exportBundle } from '../recording/bundle.ts';
import { streamEvents } from '../recording/events-export.ts';
import { verifySession } from '../recording/verify-session.ts';
import { verifyStore } from '../recording/verify.ts';
import type { ApiContext } from './context.ts';
import { idParam, object, timeText } from './schemas.ts';
import { visibleSession } from './sessions.ts';

const breakSchema = { type: 'array', items: object({ seq: { type: ['integer', 'null'] }, problem: { type: 'string' } }) };

/** Store verification, per-session verification, evidence bundles and the event stream for SIEMs. */
export function evidenceRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/events',
      {
        config: { roles: ['auditor', 'admin'] },
        schema: {
          description: 'Events of every session as JSON Lines or OCSF, streamed (default: the last hour)',
          querystring: { type: 'object', additionalProperties: false, properties: { since: timeText, until: timeText, format: { enum: ['jsonl', 'ocsf'], default: 'jsonl' } } },
          returns: { 'application/x-ndjson': { schema: { type: 'string', description: 'One JSON object per line' } } },
        },
      },
      async (req, reply) => {
        const q = req.query as { since?: string; until?: string; format: 'jsonl' | 'ocsf' };
        const since = q.since ? parseInstant(q.since, Date.now(), 'since') : Date.now() - 3600_000;
        const until = q.until ? parseInstant(q.until, Date.now(), 'until') : undefined;
        await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'events.export', target: null, detail: { since, until: until ?? null, format: q.format } });
        const lines = streamEvents(ctx.store, { since, until, format: q.format });
        const body = Readable.from((async function* () {
          for await (const line of lines) yield `${line}\n`;
        })());
        return reply.type('application/x-ndjson').send(body);
      },
    );

    app.get(
      '/api/verify',
      {
        config: { roles: ['auditor', 'admin'] },
        schema: {
          description: 'Verify every chain, seal and the ledger',
          returns: object({ checked: { type: 'object' }, open: { type: 'array', items: { type: 'string' } }, checkpoint: { type: ['object', 'null'] }, breaks: { type: 'array', items: { type: 'object' } } }),
        },
      },
      async (req) => {
        const report = await verifyStore(ctx.store, ctx.publicKeys());
        await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'store.verify', target: null, detail: { breaks: report.breaks.length } });
        return report;
      },
    );

    app.get(
      '/api/sessions/:id/verify',
      {
        config: { roles: ['user'] },
        schema: {
          description: "Verify one session: its hash chain, its record, and its seal (signature, ledger entry hash, inclusion in the ledger's Merkle tree); the session's visibility rules apply. The rest of the ledger is checked by /api/verify",
          params: idParam,
          returns: object({ sessionId: { type: 'string' }, ok: { type: 'boolean' }, sealed: { type: 'boolean' }, events: { type: 'integer' }, breaks: breakSchema, checked: { type: 'object' } }),
        },
      },
      async (req) => {
        const { id } = req.params as { id: string };
        await visibleSession(ctx, req.caller!, id);
        return verifySession(ctx.store, ctx.publicKeys(), id);
      },
    );

    app.get(
      '/api/sessions/:id/export',
      {
        config: { roles: ['auditor', 'admin'] },
        schema: {
          description: 'Signed evidence bundle of one ended session (as `airlock export`), verifiable offline with `airlock verify --bundle`',
          params: idParam,
          returns: { 'application/x-ndjson': { schema: { type: 'string', description: 'The bundle (docs/evidence-bundle.md)' } } },
        },
      },
      async (req, reply) => {
        const { id } = req.params as { id: string };
        const session = await visibleSession(ctx, req.caller!, id);
        if (session.endedAt === null) throw new AirlockError(ErrorCodes.usage, `session ${id} is still open; export it once it has ended`, { expose: true });
        // The bundle is signed over the whole file, so it is written first, then streamed and removed.
        const dir = mkdtempSync(join(tmpdir(), 'airlock-export-'));
        const file = join(dir, 'bundle.jsonl');
        const cleanup = () => rmSync(dir, { recursive: true, force: true });
        try {
          const result = await exportBundle(ctx.store, ctx.keys, [id], file);
          await ctx.store.appendAudit({ time: Date.now(), subject: req.caller!.identity.subject, action: 'session.export', target: id, detail: { events: result.events, bytes: result.bytes, via: 'api' } });
        } catch (err) {
          cleanup();
          throw err;
        }
        const body = createReadStream(file);
        body.once('close', cleanup);
        return reply
          .type('application/x-ndjson')
          .header('content-disposition', `attachment; filename="airlock-${id}.bundle.jsonl"`)
          .header('cache-control', 'no-store')
          .send(body);
      },
    );
  };
}
