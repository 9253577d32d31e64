/**
 * A real OpenID Provider (`oidc-provider` v9) owned by the test suite, on a free loopback port.
 *
 * - Signing keys are generated here, so tests hold the private keys and can forge edge-case tokens.
 * - `client_credentials` clients get RFC 9068 JWT access tokens for the resource `urn:airlock`
 *   (audience `airlock`), opaque ones for `urn:airlock:opaque` (checked by introspection) and JWTs for
 *   `urn:other` (audience `other-api`, the wrong audience for Airlock).
 * - Per-client extra claims (groups, repository, ref …) come from `extraTokenClaims`.
 * - `rotate()` restarts the provider on the same port with a fresh signing key.
 * - People log in too: `native` clients are public (PKCE, `token_endpoint_auth_method: none`, loopback
 *   redirect `http://127.0.0.1/callback` on any port, device flow), `web` clients are confidential code-flow
 *   clients with exact redirect URIs. devInteractions serve the login form (any login, any password; the login
 *   becomes `sub`) and the consent page. Refresh tokens come with `offline_access` (+ `prompt=consent`).
 *   Claims (email, groups …) of each person come from `options.users`; ID tokens carry them
 *   (`conformIdTokenClaims: false`), and so do the person's JWT access tokens.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';

export const RESOURCE_JWT = 'urn:airlock';
export const RESOURCE_OPAQUE = 'urn:airlock:opaque';
export const RESOURCE_OTHER = 'urn:other';

export interface TestClient {
  readonly clientId: string;
  /** Required unless `type` is `native`. */
  readonly clientSecret?: string;
  /** Claims added to every access token this client gets. */
  readonly claims?: Record<string, unknown>;
  /**
   * `service` (default): client_credentials only. `native`: public client for `airlock login` (code + PKCE with
   * loopback redirects on any port, device flow, refresh tokens). `web`: confidential code-flow client.
   */
  readonly type?: 'service' | 'native' | 'web';
  /** Exact redirect URIs of a `web` client. */
  readonly redirectUris?: readonly string[];
}

export interface IdpOptions {
  readonly alg?: 'RS256' | 'ES256';
  /** Claims of people who log in, by login name; anyone else gets sub/email/preferred_username and no groups. */
  readonly users?: Readonly<Record<string, Record<string, unknown>>>;
  /** `interval` (seconds) announced in device authorization answers (RFC 8628 default: 5). */
  readonly deviceInterval?: number;
}

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function clientMetadata(c: TestClient): Record<string, unknown> {
  switch (c.type ?? 'service') {
    case 'native':
      return {
        client_id: c.clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/callback'],
      };
    case 'web':
      return {
        client_id: c.clientId,
        client_secret: c.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [...(c.redirectUris ?? [])],
      };
    default:
      return {
        client_id: c.clientId,
        client_secret: c.clientSecret,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: 'db:connect',
      };
  }
}

function personClaims(users: IdpOptions['users'], accountId: string): Record<string, unknown> {
  return { sub: accountId, email: `${accountId}@example.test`, email_verified: true, preferred_username: accountId, name: accountId, groups: [], ...users?.[accountId] };
}

export interface SigningKey {
  /** Private JWK (with kid, alg, use). */
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  readonly kid: string;
  readonly alg: string;
}

export interface TestIdp {
  readonly issuer: string;
  readonly port: number;
  /** The key currently used to sign. */
  readonly key: SigningKey;
  /** Requests a client_credentials access token. */
  clientToken(clientId: string, resource?: string): Promise<string>;
  /** RFC 7009 revocation, authenticated as the token's client. */
  revoke(clientId: string, token: string): Promise<void>;
  /** Restart on the same port with a new signing key (the old one is no longer published). */
  rotate(): Promise<SigningKey>;
  stop(): Promise<void>;
}

let kidCounter = 0;

export async function newSigningKey(alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `test-${alg.toLowerCase()}-${Date.now().toString(36)}-${++kidCounter}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateJwk, publicJwk, kid, alg };
}

function buildProvider(issuer: string, key: SigningKey, clients: readonly TestClient[], options: IdpOptions = {}): Provider {
  const byId = new Map(clients.map((c) => [c.clientId, c]));
  const provider = new Provider(issuer, {
    jwks: { keys: [key.privateJwk] },
    clients: clients.map(clientMetadata),
    scopes: ['openid', 'offline_access', 'db:connect'],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'], groups: ['groups'] },
    conformIdTokenClaims: false,
    findAccount: async (_ctx: unknown, accountId: string) => ({
      accountId,
      claims: async () => personClaims(options.users, accountId),
    }),
    ttl: { AccessToken: 600, ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      // Confidential clients may introspect any token (the gateway's own client introspects the others').
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true, allowedPolicy: async (_ctx: unknown, client: { clientId: string }, token: { clientId: string }) => client.clientId === token.clientId },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE_JWT,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resource: string) => {
          switch (resource) {
            case RESOURCE_JWT:
              return { scope: 'db:connect', audience: 'airlock', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: key.alg } } };
            case RESOURCE_OPAQUE:
              return { scope: 'db:connect', audience: 'airlock', accessTokenFormat: 'opaque', accessTokenTTL: 600 };
            case RESOURCE_OTHER:
              return { scope: 'db:connect', audience: 'other-api', accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: key.alg } } };
            default:
              throw new Provider.errors.InvalidTarget();
          }
        },
      },
    },
    extraTokenClaims: async (_ctx: unknown, token: { clientId?: string; accountId?: string }) => {
      if (token.accountId) {
        // A person's access token: who they are and their groups, as the gateway reads them.
        const { email, preferred_username, groups } = personClaims(options.users, token.accountId);
        return { email, preferred_username, groups };
      }
      const client = token.clientId ? byId.get(token.clientId) : undefined;
      return client?.claims ? { ...client.claims } : undefined;
    },
  });
  if (options.deviceInterval !== undefined) {
    // oidc-provider announces no interval (clients then wait the RFC 8628 default of 5 s); tests poll faster.
    const interval = options.deviceInterval;
    (provider as unknown as { use(mw: (ctx: { path: string; status: number; body: unknown }, next: () => Promise<void>) => Promise<void>): void }).use(async (ctx, next) => {
      await next();
      if (ctx.path === '/device/auth' && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') (ctx.body as Record<string, unknown>).interval = interval;
    });
  }
  return provider;
}

async function listen(server: Server, port: number): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    } catch (err) {
      // Re-binding the same port right after a restart may race with the old socket's close.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startIdp(clients: readonly TestClient[], options: IdpOptions = {}): Promise<TestIdp> {
  let key = await newSigningKey(options.alg);
  // Bind first (port 0) so the issuer URL can carry the real port; the handler is swapped on restart.
  let handler: ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void) | undefined;
  let server = createServer((req, res) => (handler ? handler(req, res) : res.writeHead(503).end()));
  const port = await listen(server, 0);
  const issuer = `http://127.0.0.1:${port}`;
  let provider = buildProvider(issuer, key, clients, options);
  handler = provider.callback();
  const secretOf = (clientId: string) => {
    const c = clients.find((x) => x.clientId === clientId);
    if (!c) throw new Error(`unknown test client ${clientId}`);
    return `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret ?? '')}`).toString('base64')}`;
  };

  return {
    issuer,
    port,
    get key() {
      return key;
    },
    async clientToken(clientId, resource = RESOURCE_JWT) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { authorization: secretOf(clientId), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'db:connect', resource }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) throw new Error(`token request failed: ${res.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    async revoke(clientId, token) {
      const res = await fetch(`${issuer}/token/revocation`, {
        method: 'POST',
        headers: { authorization: secretOf(clientId), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
      });
      if (!res.ok) throw new Error(`revocation failed: ${res.status} ${await res.text()}`);
    },
    async rotate() {
      await closeServer(server);
      key = await newSigningKey(options.alg);
      provider = buildProvider(issuer, key, clients, options);
      handler = provider.callback();
      server = createServer((req, res) => (handler ? handler(req, res) : res.writeHead(503).end()));
      await listen(server, port);
      return key;
    },
    async stop() {
      await closeServer(server);
    },
  };
}
