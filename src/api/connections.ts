import type { FastifyPluginAsync } from 'fastify';
import { inAnyGroup } from '../core/identity.ts';
import type { ApiContext } from './context.ts';
import { Reachability } from './reachability.ts';
import { object } from './schemas.ts';
import { seesAll } from './sessions.ts';

/** How long a listing waits for due reachability probes before answering with what is known. */
const PROBE_WAIT_MS = 250;

const connectionSchema = object({
  name: { type: 'string' },
  type: { type: 'string' },
  allowed: { type: 'boolean', description: 'The caller is in one of the groups that may connect' },
  requiresRequest: { type: 'boolean', description: 'A session needs an approved access request first' },
  openSessions: { type: 'integer', description: 'Open sessions the caller may see' },
  status: { enum: ['up', 'down', 'unknown'], description: 'Whether the target accepted a TCP connection (probed at most every 30 s)' },
  checkedAt: { type: ['number', 'null'] },
});

/** Connections: users see the ones they may use, auditors and admins all of them. Never shows hosts or credentials. */
export function connectionRoutes(ctx: ApiContext, reach = new Reachability()): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/connections',
      {
        config: { roles: ['user'] },
        schema: { description: 'Connections with reachability and open sessions', returns: object({ connections: { type: 'array', items: connectionSchema } }) },
      },
      async (req) => {
        const caller = req.caller!;
        const all = seesAll(caller);
        const list = Object.entries(ctx.config.connections)
          .map(([name, c]) => ({ name, c, allowed: inAnyGroup(caller.identity, c.allow) }))
          .filter((x) => all || x.allowed);
        const open = await ctx.store.listSessions({ open: true, user: all ? undefined : caller.identity.subject, limit: 100_000 });
        const counts = new Map<string, number>();
        for (const s of open) counts.set(s.connection, (counts.get(s.connection) ?? 0) + 1);
        const reached = await reach.check(list.map((x) => ({ host: x.c.host, port: x.c.port })), PROBE_WAIT_MS);
        return {
          connections: list.map((x, i) => ({
            name: x.name, type: x.c.type, allowed: x.allowed, requiresRequest: !!x.c.access?.requireRequest,
            openSessions: counts.get(x.name) ?? 0, status: reached[i].status, checkedAt: reached[i].checkedAt,
          })),
        };
      },
    );
  };
}
