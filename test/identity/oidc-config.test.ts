import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { AirlockError } from '../../src/core/errors.ts';
import { claimMatches, claimValue, decideKind, globMatch, keptClaims, parseGroups, unmetRequirement } from '../../src/identity/oidc/claims.ts';
import { discoveryUrl, oauthMetadataUrl } from '../../src/identity/oidc/discovery.ts';
import { insecureUrlReason, isLoopbackHost } from '../../src/identity/oidc/url.ts';
import { OidcVerifier, looksLikeJwt } from '../../src/identity/oidc/verifier.ts';

const load = (oidc: unknown[]) => parseConfig({ identity: { oidc } }, '/');

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AirlockError);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('OIDC issuer configuration', () => {
  it('rejects an http:// issuer that is not on loopback, with a clear error', () => {
    const msg = configError(() => load([{ issuer: 'http://login.example.com', audience: 'airlock' }]));
    expect(msg).toContain('identity.oidc.0.issuer');
    expect(msg).toContain('must use https://');
    expect(msg).toContain('loopback');
    // Not fooled by a loopback-looking prefix.
    expect(configError(() => load([{ issuer: 'http://127.0.0.1.example.com', audience: 'a' }]))).toContain('must use https://');
    expect(configError(() => load([{ issuer: 'ftp://login.example.com', audience: 'a' }]))).toContain('must use https://');
  });

  it('accepts https:// anywhere and http:// on loopback', () => {
    for (const issuer of ['https://login.example.com', 'https://login.example.com/realms/x', 'http://127.0.0.1:8443', 'http://localhost:9000', 'http://[::1]:9000']) {
      expect(load([{ issuer, audience: 'airlock' }]).identity.oidc[0].issuer).toBe(issuer);
    }
  });

  it('rejects symmetric or "none" algorithms, duplicates, and introspection without credentials', () => {
    expect(configError(() => load([{ issuer: 'https://a.example', audience: 'x', algorithms: ['HS256'] }]))).toContain('algorithms');
    expect(configError(() => load([{ issuer: 'https://a.example', audience: 'x', algorithms: ['none'] }]))).toContain('algorithms');
    expect(configError(() => load([{ issuer: 'https://a.example', audience: 'x' }, { issuer: 'https://a.example', audience: 'y' }]))).toContain('listed more than once');
    expect(configError(() => load([{ issuer: 'https://a.example', audience: 'x', introspection: {} }]))).toContain('introspection needs clientId and clientSecret');
    expect(configError(() => load([{ issuer: 'https://a.example', audience: 'x', introspection: { endpoint: 'http://idp.example/introspect', clientId: 'a', clientSecret: 'b' } }]))).toContain('must use https://');
    expect(configError(() => load([{ issuer: 'https://a.example', audience: 'x', clockSkew: 'soon' }]))).toContain('duration');
  });

  it('takes the new keys', () => {
    const [o] = load([
      {
        issuer: 'https://token.actions.githubusercontent.com',
        audience: 'airlock',
        subjectClaim: 'repository',
        groupsClaim: 'repository_owner',
        algorithms: ['RS256'],
        clockSkew: '10s',
        kind: 'service',
        requireClaims: { repository: 'acme/*', ref: ['refs/heads/main', 'refs/tags/v*'] },
        serviceWhen: { runner_environment: '*' },
        jwksCooldown: '1m',
        introspection: { clientId: 'gw', clientSecret: 'secret', cacheTtl: '30s' },
      },
    ]).identity.oidc;
    expect(o.kind).toBe('service');
    expect(o.requireClaims?.ref).toEqual(['refs/heads/main', 'refs/tags/v*']);
    expect(load([{ issuer: 'https://a.example', audience: 'x' }]).identity.oidc[0]).toMatchObject({ kind: 'auto', groupsClaim: 'groups', subjectClaim: 'sub' });
  });

  it('the verifier refuses an insecure issuer or a clock skew over 5m even when built directly', () => {
    expect(() => new OidcVerifier([{ ...load([{ issuer: 'https://a.example', audience: 'x' }]).identity.oidc[0], issuer: 'http://a.example' }])).toThrow(/must use https/);
    expect(() => new OidcVerifier(load([{ issuer: 'https://a.example', audience: 'x', clockSkew: '10m' }]).identity.oidc)).toThrow(/clockSkew/);
  });
});

describe('URL rules', () => {
  it('knows loopback', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '[::1]', '::1'].every(isLoopbackHost)).toBe(true);
    expect(['10.0.0.1', '127.0.0.1.nip.io', 'localhost.example.com', '[::2]'].some(isLoopbackHost)).toBe(false);
    expect(insecureUrlReason('https://x.example/jwks')).toBeUndefined();
    expect(insecureUrlReason('http://x.example/jwks')).toContain('https://');
  });

  it('builds discovery URLs', () => {
    expect(discoveryUrl('https://idp.example/realms/a')).toBe('https://idp.example/realms/a/.well-known/openid-configuration');
    expect(discoveryUrl('https://idp.example/')).toBe('https://idp.example/.well-known/openid-configuration');
    expect(oauthMetadataUrl('https://idp.example/tenant')).toBe('https://idp.example/.well-known/oauth-authorization-server/tenant');
  });
});

describe('claims', () => {
  it('reads namespaced and nested claims', () => {
    const c = { 'https://example.com/groups': ['a'], realm_access: { roles: ['r1', 'r2'] } };
    expect(claimValue(c, 'https://example.com/groups')).toEqual(['a']);
    expect(claimValue(c, 'realm_access.roles')).toEqual(['r1', 'r2']);
    expect(claimValue(c, 'realm_access.missing')).toBeUndefined();
    expect(claimValue(c, 'constructor')).toBeUndefined();
  });

  it('parses groups from arrays and separated strings', () => {
    expect(parseGroups(['dba', 'ops', 'dba', 7, ''])).toEqual(['dba', 'ops']);
    expect(parseGroups('dba ops,ci')).toEqual(['dba', 'ops', 'ci']);
    expect(parseGroups(undefined)).toEqual([]);
    expect(parseGroups({ a: 1 })).toEqual([]);
  });

  it('matches globs exactly and literally', () => {
    expect(globMatch('acme/*', 'acme/api')).toBe(true);
    expect(globMatch('acme/*', 'acme/api/x')).toBe(true);
    expect(globMatch('acme/*', 'evil/acme/api')).toBe(false);
    expect(globMatch('refs/heads/main', 'refs/heads/main2')).toBe(false);
    expect(globMatch('a.c', 'abc')).toBe(false);
    expect(claimMatches(['x', 'acme/y'], 'acme/*')).toBe(true);
    expect(claimMatches(true, 'true')).toBe(true);
    expect(claimMatches({ a: 1 }, '*')).toBe(false);
  });

  it('names the unmet requirement', () => {
    const rules = { repository: 'acme/*', ref: 'refs/heads/main' };
    expect(unmetRequirement({ repository: 'acme/api', ref: 'refs/heads/main' }, rules)).toBeUndefined();
    expect(unmetRequirement({ ref: 'refs/heads/main' }, rules)).toBe('token lacks required claim "repository"');
    expect(unmetRequirement({ repository: 'acme/api', ref: 'refs/heads/dev' }, rules)).toContain('token claim "ref" does not match');
  });

  it('decides service or user', () => {
    expect(decideKind({ sub: 'ci', client_id: 'ci' }, {})).toBe('service');
    expect(decideKind({ sub: 'app', azp: 'app', email: 'x@example.com' }, {})).toBe('service');
    expect(decideKind({ sub: 'u1', email: 'u1@example.com', client_id: 'web' }, {})).toBe('user');
    expect(decideKind({ sub: 'u1', preferred_username: 'u1' }, {})).toBe('user');
    expect(decideKind({ sub: 'repo:acme/api:ref:refs/heads/main' }, {})).toBe('service');
    expect(decideKind({ sub: 'u1', email: 'u1@example.com' }, { kind: 'service' })).toBe('service');
    expect(decideKind({ sub: 'u1' }, { kind: 'user' })).toBe('user');
    expect(decideKind({ sub: 'u1', email: 'a@b.c', runner: 'x' }, { kind: 'user', serviceWhen: { runner: '*' } })).toBe('service');
  });

  it('keeps small claims only, never the credential', () => {
    const kept = keptClaims({ sub: 'a', big: 'x'.repeat(2000), jti: 'opaque-token-value-123', nested: { a: 1 } }, 'opaque-token-value-123');
    expect(kept).toEqual({ sub: 'a', nested: { a: 1 } });
  });
});

describe('token shapes', () => {
  it('accepts JWT-looking credentials only when the header names an alg', () => {
    const b = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    expect(looksLikeJwt(`${b({ alg: 'RS256' })}.${b({})}.sig`)).toBe(true);
    expect(looksLikeJwt(`${b({ alg: 'none' })}.${b({})}.`)).toBe(true);
    expect(looksLikeJwt(`${b({ typ: 'JWT' })}.${b({})}.sig`)).toBe(false);
    expect(looksLikeJwt('alk_abc.def.ghi')).toBe(false);
    expect(looksLikeJwt('not a token')).toBe(false);
    const v = new OidcVerifier(load([{ issuer: 'https://a.example', audience: 'x' }]).identity.oidc);
    expect(v.accepts('some-opaque-token-without-introspection')).toBe(false);
    const vi = new OidcVerifier(load([{ issuer: 'https://a.example', audience: 'x', introspection: { clientId: 'gw', clientSecret: 's' } }]).identity.oidc);
    expect(vi.accepts('some-opaque-token-with-introspection')).toBe(true);
    expect(vi.accepts('alk_01HXXXXXXXXXXXXXXXXXXXXXXXX_secret')).toBe(false);
    expect(vi.accepts('short')).toBe(false);
  });
});
