import type { FastifyInstance } from 'fastify';
import { errorSchema } from './schemas.ts';

interface JsonSchema {
  readonly type?: unknown;
  readonly properties?: Record<string, JsonSchema & { description?: string }>;
  readonly required?: readonly string[];
  readonly description?: string;
}

interface RouteInfo {
  method: string;
  url: string;
  roles: unknown;
  schema?: { body?: JsonSchema; querystring?: JsonSchema; params?: JsonSchema; headers?: JsonSchema; description?: string; returns?: unknown };
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

/** Request parts described by a JSON Schema object become OpenAPI parameters. */
function parameters(where: 'path' | 'query' | 'header', schema: JsonSchema | undefined): unknown[] {
  if (!schema?.properties) return [];
  return Object.entries(schema.properties).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name, in: where, required: where === 'path' || (schema.required ?? []).includes(name),
      ...(description ? { description } : {}), schema: rest,
    };
  });
}

/** `returns` is either a JSON Schema (a JSON answer) or a map of media types. */
function okContent(returns: unknown): Record<string, unknown> {
  if (returns && typeof returns === 'object' && Object.keys(returns).some((k) => k.includes('/'))) return returns as Record<string, unknown>;
  return { 'application/json': { schema: returns ?? {} } };
}

const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

export function openApiDocument(app: FastifyInstance): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes.get(app) ?? []) {
    // fastify's `*` wildcard becomes a path parameter of its own.
    const path = r.url.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{wildcard}');
    const s = r.schema ?? {};
    const isPublic = r.roles === 'public';
    const responses: Record<string, unknown> = { 200: { description: 'ok', content: okContent(s.returns) } };
    if (s.body || s.querystring || s.params || s.headers) responses[400] = error('bad input (the message says which part and why)');
    if (!isPublic) {
      responses[401] = error('no or bad credential (bearer token or session cookie)');
      responses[403] = error('a role this route needs is missing');
    }
    if (s.params) responses[404] = error('no such object, or not visible to the caller');
    const declared = parameters('path', s.params) as { name: string }[];
    // Every path template needs its parameter, also on routes that leave it unvalidated.
    for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
      if (!declared.some((p) => p.name === name)) declared.push({ name, in: 'path', required: true, schema: { type: 'string' } } as { name: string });
    }
    const params = [...declared, ...parameters('query', s.querystring), ...parameters('header', s.headers)];
    paths[path] ??= {};
    paths[path][r.method] = {
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: s.description ?? '',
      'x-airlock-roles': r.roles ?? [],
      security: isPublic ? [] : [{ bearer: [] }, { cookie: [] }],
      ...(params.length ? { parameters: params } : {}),
      ...(s.body ? { requestBody: { required: true, content: { 'application/json': { schema: s.body } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Airlock control plane', version: '1', description: 'Every route declares its roles in x-airlock-roles; errors are {error, message}.' },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An Airlock token (`airlock tokens issue`) or a trusted OIDC access token' },
        cookie: { type: 'apiKey', in: 'cookie', name: 'airlock_session', description: 'Browser session after a web sign-in' },
      },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}
