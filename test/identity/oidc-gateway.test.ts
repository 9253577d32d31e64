/**
 * OIDC identities end to end: a real OpenID Provider (oidc-provider) issues client-credentials tokens, a CI
 * job / agent presents them as its PostgreSQL password through the gateway to a real PostgreSQL with the real
 * psql. Hostile tokens are forged with keys the test controls and must each be refused with their own reason.
 */
import { exportSPKI, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { RESOURCE_OPAQUE, RESOURCE_OTHER, startIdp, type TestIdp } from './oidc-provider.ts';

const GATEWAY_CLIENT = { clientId: 'airlock-gateway', clientSecret: 'gateway-introspection-secret-0123456789' };

let pg: PgServer;
let idp: TestIdp;
let ci: TestIdp;
let gw: TestGateway;
let apiPort = 0;

beforeAll(async () => {
  [pg, idp, ci] = await Promise.all([
    startPostgres(),
    startIdp([
      { clientId: 'ci-deployer', clientSecret: 'ci-deployer-secret-0123456789abcdef', claims: { groups: ['dba', 'ci'] } },
      { clientId: 'agent-7', clientSecret: 'agent-7-secret-0123456789abcdefghij', claims: { groups: 'agents dba' } },
      { clientId: 'no-groups', clientSecret: 'no-groups-secret-0123456789abcdefgh' },
      GATEWAY_CLIENT,
    ]),
    startIdp([
      { clientId: 'deploy-main', clientSecret: 'deploy-main-secret-0123456789abcdef', claims: { groups: ['dba'], repository: 'acme/api', ref: 'refs/heads/main' } },
      { clientId: 'deploy-branch', clientSecret: 'deploy-branch-secret-0123456789abcd', claims: { groups: ['dba'], repository: 'acme/api', ref: 'refs/heads/feature-x' } },
      { clientId: 'deploy-fork', clientSecret: 'deploy-fork-secret-0123456789abcdef', claims: { groups: ['dba'], repository: 'mallory/api', ref: 'refs/heads/main' } },
      { clientId: 'deploy-norepo', clientSecret: 'deploy-norepo-secret-0123456789abcd', claims: { groups: ['dba'], ref: 'refs/heads/main' } },
    ]),
  ]);
  await pg.sql('CREATE TABLE deploys (id int primary key, name text)');
  await pg.sql("INSERT INTO deploys VALUES (1, 'first'), (2, 'second')");
  gw = await startGateway({
    listen: { postgres: '127.0.0.1:0', api: '127.0.0.1:0' },
    // This file presents dozens of hostile tokens from one address on purpose; the login throttle has its own test.
    limits: { failedLoginsBeforeDelay: 1000 },
    identity: {
      oidc: [
        {
          issuer: idp.issuer,
          audience: 'airlock',
          introspection: { ...GATEWAY_CLIENT, cacheTtl: '500ms' },
        },
        {
          issuer: ci.issuer,
          audience: 'airlock',
          requireClaims: { repository: 'acme/*', ref: 'refs/heads/main' },
        },
      ],
    },
    connections: {
      'pg-main': pgConnection(pg),
      'pg-agents': pgConnection(pg, { allow: ['agents'] }),
    },
  });
  apiPort = gw.gw.listeners.get('api')?.port ?? 0;
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([idp?.stop(), ci?.stop(), pg?.stop()]);
});

const login = (user: string, password: string, database = 'pg-main', sql = 'select count(*) from deploys') =>
  psql({ port: gw.pgPort, user, password, database }, ['-At', '-c', sql]);

async function sessionsOf(user: string, n: number) {
  for (let i = 0; i < 200; i++) {
    const list = await gw.gw.store.listSessions({ user });
    if (list.length >= n && list.every((s) => s.endedAt !== null)) return list;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`sessions of ${user} did not close`);
}

describe('OIDC client-credentials tokens through the gateway (real provider, PostgreSQL, psql)', () => {
  it('a JWT access token (RFC 9068) is the PostgreSQL password; recorded as oidc / service', async () => {
    const token = await idp.clientToken('ci-deployer');
    const [header] = token.split('.');
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ typ: 'at+jwt', alg: 'RS256', kid: idp.key.kid });
    const r = await login('ci-deployer', token);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('2');
    const [s] = await sessionsOf('ci-deployer', 1);
    expect(s).toMatchObject({ subject: 'ci-deployer', authMethod: 'oidc', kind: 'service', groups: ['dba', 'ci'], connection: 'pg-main' });
    expect(s.credentialId).toMatch(/^jti:/);
    const events = [];
    for await (const e of gw.gw.store.readEvents(s.id)) events.push(e);
    expect(events.find((e) => e.type === 'session.start')?.data).toMatchObject({ authMethod: 'oidc', kind: 'service' });
    expect(JSON.stringify(events)).not.toContain(token);
    expect(JSON.stringify(s)).not.toContain(token);
  });

  it('reads groups from a space-separated claim, and checks them against the connection', async () => {
    const token = await idp.clientToken('agent-7');
    expect((await login('agent-7', token, 'pg-agents', 'select 1')).stdout.trim()).toBe('1');
    const none = await idp.clientToken('no-groups');
    const r = await login('no-groups', none, 'pg-main', 'select 1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('connection "pg-main" does not exist or you may not use it');
  });

  it('the user name must be the token subject', async () => {
    const token = await idp.clientToken('ci-deployer');
    const r = await login('alice', token);
    expect(r.stderr).toContain('the token belongs to another identity');
  });

  it('works as an HTTP bearer token on the API', async () => {
    const token = await idp.clientToken('ci-deployer');
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ subject: 'ci-deployer', authMethod: 'oidc', kind: 'service' });
    const bad = await fetch(`http://127.0.0.1:${apiPort}/api/me`, { headers: { authorization: `Bearer ${token.slice(0, -4)}AAAA` } });
    expect(bad.status).toBe(401);
    expect(JSON.stringify(await bad.json())).toContain('bad signature');
  });

  it('gateway-issued tokens keep working next to OIDC', async () => {
    const token = await gw.token('alice', ['dba']);
    expect((await login('alice', token, 'pg-main', 'select 1')).stdout.trim()).toBe('1');
  });

  it('an opaque token is checked by introspection', async () => {
    const token = await idp.clientToken('ci-deployer', RESOURCE_OPAQUE);
    expect(token.split('.')).toHaveLength(1);
    const r = await login('ci-deployer', token, 'pg-main', 'select 1');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
    const list = await sessionsOf('ci-deployer', 1);
    const s = list.find((x) => x.credentialId?.startsWith('sha256:'));
    expect(s).toMatchObject({ authMethod: 'oidc', kind: 'service', groups: ['dba', 'ci'] });
    // The opaque token is its own jti at this provider: it must not become the credential id.
    expect(s?.credentialId).not.toContain(token);
  });

  it('an introspected token revoked after use is refused once the short cache expires', async () => {
    const token = await idp.clientToken('ci-deployer', RESOURCE_OPAQUE);
    expect((await login('ci-deployer', token, 'pg-main', 'select 1')).stdout.trim()).toBe('1');
    await idp.revoke('ci-deployer', token);
    await new Promise((r) => setTimeout(r, 600));
    const r = await login('ci-deployer', token, 'pg-main', 'select 1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('token revoked or inactive');
  });
});

describe('hostile tokens, each refused with its own reason', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

  /** Signed with the provider's real signing key (the test generated it, so it holds the private half). */
  async function forge(claims: JWTPayload & Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    const key = await importJWK(idp.key.privateJwk, 'RS256');
    const payload = {
      iss: idp.issuer,
      aud: 'airlock',
      sub: 'ci-deployer',
      client_id: 'ci-deployer',
      groups: ['dba'],
      scope: 'db:connect',
      iat: now(),
      exp: now() + 600,
      jti: `forged-${Math.random().toString(36).slice(2)}`,
      ...claims,
    };
    return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: idp.key.kid, ...header }).sign(key);
  }

  const cases: [string, () => Promise<string>, string][] = [
    ['control: a forged-but-correct token with the real key verifies', () => forge({}), ''],
    ['expired', () => forge({ exp: now() - 3600 }), 'token expired'],
    ['not yet valid', () => forge({ nbf: now() + 3600 }), 'token not yet valid'],
    ['wrong issuer', () => forge({ iss: 'https://evil.example.com' }), 'wrong issuer: "https://evil.example.com" is not a trusted issuer'],
    ['wrong audience (real provider token for another API)', () => idp.clientToken('ci-deployer', RESOURCE_OTHER), 'wrong audience (expected airlock)'],
    ['wrong audience (forged)', () => forge({ aud: 'someone-else' }), 'wrong audience (expected airlock)'],
    [
      'alg none',
      async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: idp.issuer, aud: 'airlock', sub: 'ci-deployer', groups: ['dba'], exp: now() + 600 })}.`,
      'unsigned token (alg "none") refused',
    ],
    [
      'HS256 signed with the public key as HMAC secret',
      async () => {
        const pub = await exportSPKI(await importJWK(idp.key.publicJwk, 'RS256', { extractable: true }) as CryptoKey);
        return new SignJWT({ sub: 'ci-deployer', groups: ['dba'] })
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: idp.key.kid })
          .setIssuer(idp.issuer)
          .setAudience('airlock')
          .setExpirationTime(now() + 600)
          .sign(new TextEncoder().encode(pub));
      },
      'algorithm "HS256" not allowed',
    ],
    [
      'unknown kid (a key the provider never published)',
      async () => {
        const { privateKey } = await generateKeyPair('RS256');
        return new SignJWT({ sub: 'ci-deployer', groups: ['dba'] })
          .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'attacker-key-1' })
          .setIssuer(idp.issuer)
          .setAudience('airlock')
          .setExpirationTime(now() + 600)
          .sign(privateKey);
      },
      'unknown signing key (kid "attacker-key-1"',
    ],
    [
      'tampered payload (groups widened, signature kept)',
      async () => {
        const [h, p, s] = (await idp.clientToken('ci-deployer')).split('.');
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        return `${h}.${b64({ ...claims, groups: ['dba', 'admin'] })}.${s}`;
      },
      'bad signature',
    ],
    ['algorithm outside the allow-list (PS512)', () => forgePs512(), 'algorithm "PS512" not allowed'],
    ['token without exp', () => forgeWithoutExp(), 'token has no expiry (exp)'],
    ['sender-constrained (DPoP) token', () => forge({ cnf: { jkt: 'abc' } }), 'sender-constrained token'],
    ['unexpected typ (logout token)', () => forge({}, { typ: 'logout+jwt' }), 'token type "logout+jwt" not accepted'],
    [
      'revoked opaque token (introspection: active false)',
      async () => {
        const t = await idp.clientToken('ci-deployer', RESOURCE_OPAQUE);
        await idp.revoke('ci-deployer', t);
        return t;
      },
      'token revoked or inactive',
    ],
    ['unknown opaque token', async () => 'ZmFrZS1vcGFxdWUtdG9rZW4tdGhhdC1kb2VzLW5vdC1leGlzdA', 'token revoked or inactive'],
  ];

  async function forgePs512(): Promise<string> {
    const key = await importJWK({ ...idp.key.privateJwk, alg: 'PS512' }, 'PS512');
    return new SignJWT({ sub: 'ci-deployer', groups: ['dba'] })
      .setProtectedHeader({ alg: 'PS512', typ: 'at+jwt', kid: idp.key.kid })
      .setIssuer(idp.issuer)
      .setAudience('airlock')
      .setExpirationTime(now() + 600)
      .sign(key);
  }

  async function forgeWithoutExp(): Promise<string> {
    const key = await importJWK(idp.key.privateJwk, 'RS256');
    return new SignJWT({ sub: 'ci-deployer', groups: ['dba'] })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: idp.key.kid })
      .setIssuer(idp.issuer)
      .setAudience('airlock')
      .sign(key);
  }

  it.each(cases)('%s', async (_name, make, reason) => {
    const token = await make();
    const r = await login('ci-deployer', token, 'pg-main', 'select 1');
    if (!reason) {
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('1');
      return;
    }
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('password authentication failed for user "ci-deployer"');
    expect(r.stderr).toContain(reason);
    // The refusal names the problem, never the token.
    expect(r.stderr).not.toContain(token);
    expect(r.stderr).not.toContain(token.split('.')[1] ?? token);
  });

  it('an ID token of a person (typ JWT, email, no client_id) is a user identity', async () => {
    const token = await forge({ sub: 'alice', email: 'alice@example.com', client_id: undefined, azp: 'web-console', aud: 'airlock' }, { typ: 'JWT' });
    const r = await login('alice', token, 'pg-main', 'select 1');
    expect(r.stderr).toBe('');
    const [s] = await sessionsOf('alice', 1);
    expect(s).toMatchObject({ subject: 'alice', authMethod: 'oidc', kind: 'user', groups: ['dba'] });
  });

  it('every fault has its own reason', () => {
    const reasons = cases.map(([, , reason]) => reason).filter(Boolean);
    // Two deliberate pairs: wrong audience (real and forged) and inactive (revoked and unknown opaque).
    expect(new Set(reasons).size).toBe(reasons.length - 2);
  });
});

describe('claim requirements for CI tokens', () => {
  it('a token from the right repository and branch gets in', async () => {
    const r = await login('deploy-main', await ci.clientToken('deploy-main'), 'pg-main', 'select 1');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
  });

  it.each([
    ['deploy-branch', 'token claim "ref" does not match the required value (refs/heads/main)'],
    ['deploy-fork', 'token claim "repository" does not match the required value (acme/*)'],
    ['deploy-norepo', 'token lacks required claim "repository"'],
  ])('%s is refused, naming the claim', async (client, reason) => {
    const r = await login(client, await ci.clientToken(client), 'pg-main', 'select 1');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(reason);
  });
});
