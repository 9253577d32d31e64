import type { FastifyInstance } from 'fastify';

interface RouteInfo {
  method: string;
  url: string;
  roles: unknown;
  schema?: { body?: unknown; querystring?: unknown; description?: string };
}

const routes = new WeakMap<FastifyInstance, RouteInfo[]>();

/** Collects routes as they register, so the OpenAPI document always matches the server. */
export function trackRoutes(app: FastifyInstance): void {
  const list: RouteInfo[] = [];
  routes.set(app, list);
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method];
    for (const m of methods) if (m !== 'HEAD') list.push({ method: m.toLowerCase(), url: r.url, roles: r.config?.roles, schema: r.schema as RouteInfo['schema'] });
  });
}

export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes.get(app) ?? []) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method] = {
      description: r.schema?.description ?? '',
      'x-airlock-roles': r.roles ?? [],
      security: r.roles === 'public' ? [] : [{ bearer: [] }],
      ...(r.schema?.body ? { requestBody: { content: { 'application/json': { schema: r.schema.body } } } } : {}),
      responses: { 200: { description: 'ok' }, 401: { description: 'no or bad token' }, 403: { description: 'role missing' } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Airlock control plane', version: '1' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}
