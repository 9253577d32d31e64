/**
 * Signing-key rotation at a real provider: the provider restarts on the same port with a new JWKS; tokens
 * signed with the new key verify at once (unknown kid → one refetch), tokens of the retired key are refused,
 * and refetches forced by unknown kids are rate-limited by the cooldown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { AirlockError } from '../../src/core/errors.ts';
import { OidcVerifier } from '../../src/identity/oidc/verifier.ts';
import { psql } from '../harness/clients.ts';
import { pgConnection, startGateway, type TestGateway } from '../harness/gateway.ts';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startIdp, type TestIdp } from './oidc-provider.ts';

let pg: PgServer;
let idp: TestIdp;
let gw: TestGateway;

const CLIENT = { clientId: 'release-bot', clientSecret: 'release-bot-secret-0123456789abcdef', claims: { groups: ['dba'] } };

beforeAll(async () => {
  [pg, idp] = await Promise.all([startPostgres(), startIdp([CLIENT])]);
  gw = await startGateway({
    identity: { oidc: [{ issuer: idp.issuer, audience: 'airlock' }] },
    connections: { 'pg-main': pgConnection(pg) },
  });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([idp?.stop(), pg?.stop()]);
});

const login = (token: string) => psql({ port: gw.pgPort, user: 'release-bot', password: token, database: 'pg-main' }, ['-At', '-c', 'select 1']);

async function refusal(v: OidcVerifier, token: string): Promise<string> {
  try {
    await v.verify(token, { protocol: 'test', clientAddress: '127.0.0.1' });
  } catch (err) {
    expect(err).toBeInstanceOf(AirlockError);
    expect((err as AirlockError).expose).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('key rotation mid-run', () => {
  it('new tokens verify after the provider rotates its keys; the retired key is refused', async () => {
    const before = await idp.clientToken('release-bot');
    const oldKid = idp.key.kid;
    expect((await login(before)).stdout.trim()).toBe('1');

    const rotated = await idp.rotate();
    expect(rotated.kid).not.toBe(oldKid);
    const after = await idp.clientToken('release-bot');
    expect(JSON.parse(Buffer.from(after.split('.')[0], 'base64url').toString()).kid).toBe(rotated.kid);
    const ok = await login(after);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('1');

    // Still unexpired, but signed by a key the provider no longer publishes.
    const old = await login(before);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain(`unknown signing key (kid "${oldKid}"`);
  });

  it('unknown-kid refetches are limited by the cooldown', async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const [cfg] = parseConfig({ identity: { oidc: [{ issuer: idp.issuer, audience: 'airlock', jwksCooldown: '30s' }] } }, '/').identity.oidc;
    const v = await OidcVerifier.create([cfg], { now });
    const first = await idp.clientToken('release-bot');
    expect((await v.verify(first, { protocol: 'test', clientAddress: '127.0.0.1' })).subject).toBe('release-bot');

    // Rotation #1: the first unknown kid refetches at once.
    await idp.rotate();
    const second = await idp.clientToken('release-bot');
    expect((await v.verify(second, { protocol: 'test', clientAddress: '127.0.0.1' })).kind).toBe('service');

    // Rotation #2 within the cooldown: no refetch yet, so the new kid is unknown.
    await idp.rotate();
    const third = await idp.clientToken('release-bot');
    expect(await refusal(v, third)).toContain('unknown signing key');

    // After the cooldown the next unknown kid refetches again.
    offset = 31_000;
    expect((await v.verify(third, { protocol: 'test', clientAddress: '127.0.0.1' })).subject).toBe('release-bot');
  });

  it('an explicit jwksUri needs no discovery', async () => {
    const [cfg] = parseConfig({ identity: { oidc: [{ issuer: idp.issuer, audience: 'airlock', jwksUri: `${idp.issuer}/jwks`, kind: 'user' }] } }, '/').identity.oidc;
    const v = new OidcVerifier([cfg]);
    const id = await v.verify(await idp.clientToken('release-bot'), { protocol: 'test', clientAddress: '127.0.0.1' });
    expect(id).toMatchObject({ subject: 'release-bot', kind: 'user', authMethod: 'oidc', groups: ['dba'] });
    expect(id.claims).toMatchObject({ client_id: 'release-bot', scope: 'db:connect', aud: 'airlock' });
  });

  it('an unreachable provider gives a clear refusal, and start-up does not fail', async () => {
    const [cfg] = parseConfig({ identity: { oidc: [{ issuer: 'http://127.0.0.1:9', audience: 'airlock' }] } }, '/').identity.oidc;
    const v = await OidcVerifier.create([cfg], { timeoutMs: 1000 });
    const token = await idp.clientToken('release-bot');
    const forged = token.split('.');
    const payload = { ...JSON.parse(Buffer.from(forged[1], 'base64url').toString()), iss: 'http://127.0.0.1:9' };
    const msg = await refusal(v, `${forged[0]}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${forged[2]}`);
    expect(msg).toContain('cannot verify token: discovery of issuer http://127.0.0.1:9 failed');
  });
});
