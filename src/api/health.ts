import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from './context.ts';
import { object } from './schemas.ts';

/** A store that takes longer than this to answer a ping is reported as unreachable. */
const PING_TIMEOUT_MS = 2000;

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether `credential` is the configured metrics token (compared in constant time). */
export function metricsTokenCheck(token: string | undefined): ((credential: string) => boolean) | undefined {
  if (!token) return undefined;
  const expected = digest(token);
  return (credential) => timingSafeEqual(digest(credential), expected);
}

/** Liveness, readiness and Prometheus metrics, for load balancers, orchestrators and scrapers. */
export function healthRoutes(ctx: ApiContext): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/healthz',
      { config: { roles: 'public' }, schema: { description: 'Liveness: the process answers', returns: object({ status: { const: 'ok' } }) } },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/readyz',
      {
        config: { roles: 'public' },
        schema: {
          description: 'Readiness: 200 when the listeners are up and the store answers; 503 with the reason otherwise',
          returns: object({ status: { enum: ['ready', 'not ready'] }, reason: { type: 'string' } }, ['status']),
        },
      },
      async (_req, reply) => {
        reply.header('cache-control', 'no-store');
        const reason = ctx.notReady() ?? (await storeProblem(ctx));
        if (reason) return reply.status(503).send({ status: 'not ready', reason });
        return { status: 'ready' };
      },
    );

    app.get(
      '/metrics',
      {
        config: { roles: ['admin'], alsoAccepts: metricsTokenCheck(ctx.config.metrics?.token) },
        schema: { description: 'Prometheus metrics (text format); an admin or the configured metrics.token', returns: { 'text/plain': { schema: { type: 'string' } } } },
      },
      async (_req, reply) => {
        const { contentType, body } = await ctx.metrics.text();
        return reply.type(contentType).header('cache-control', 'no-store').send(body);
      },
    );
  };
}

async function storeProblem(ctx: ApiContext): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('the store did not answer in time'), PING_TIMEOUT_MS)));
  try {
    const failed = (err: Error) => {
      ctx.log.warn({ err: err.message }, 'readiness: store ping failed');
      return 'the store is unreachable';
    };
    return await Promise.race([ctx.store.ping().then(() => undefined, failed), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
