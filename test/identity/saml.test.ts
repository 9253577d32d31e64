/**
 * SAML 2.0 web login end to end: the suite's own IdP (saml-idp.ts) signs responses, the browser side is fetch
 * against a running gateway's API: POST to the ACS, follow the session cookie to /api/me. Each hostile
 * response is refused with its own reason and never starts a session.
 */
import { inflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { SamlServiceProvider } from '../../src/identity/saml/sp.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { Gateway } from '../../src/server/gateway.ts';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.ts';
import { startGateway, type TestGateway } from '../harness/gateway.ts';
import { ALG, TestSamlIdp, signingKey, type SigningKey } from './saml-idp.ts';

const SP = { entityId: 'https://airlock.test/saml', acsUrl: 'https://airlock.test/auth/saml/acs' };

let idp: TestSamlIdp;
let forger: SigningKey;
let gw: TestGateway;
let api = '';
let adminToken = '';

function samlConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...SP, idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, idpCert: idp.signing.cert, groupsAttribute: 'groups', clockSkew: '30s', ...extra };
}

beforeAll(async () => {
  [idp, forger] = await Promise.all([TestSamlIdp.create(SP), signingKey('mallory')]);
  gw = await startGateway({
    listen: { api: '127.0.0.1:0' },
    identity: { roles: { admin: ['platform'] }, saml: samlConfig() },
  });
  api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
  adminToken = await gw.token('root', ['platform']);
});

afterAll(async () => {
  await gw?.stop();
});

async function postAcs(samlResponse: string, relayState?: string): Promise<Response> {
  const form = new URLSearchParams({ SAMLResponse: samlResponse, ...(relayState ? { RelayState: relayState } : {}) });
  return fetch(`${api}/auth/saml/acs`, { method: 'POST', body: form, redirect: 'manual' });
}

function sessionCookieOf(res: Response): string | undefined {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('airlock_session='));
  return cookie?.split(';')[0];
}

async function expectRefused(samlResponse: string, reason: RegExp): Promise<string> {
  const res = await postAcs(samlResponse);
  const body = await res.text();
  expect(res.status, body).toBe(401);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(body).toMatch(reason);
  expect(sessionCookieOf(res)).toBeUndefined();
  return body;
}

/** Starts a login like a browser would; returns the AuthnRequest id and the redirect. */
async function startLogin(next?: string): Promise<{ id: string; location: URL; request: string }> {
  const res = await fetch(`${api}/auth/saml/login${next ? `?next=${encodeURIComponent(next)}` : ''}`, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const location = new URL(res.headers.get('location')!);
  const request = inflateRawSync(Buffer.from(location.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
  const id = /<samlp:AuthnRequest[^>]*\sID="([^"]+)"/.exec(request)![1];
  return { id, location, request };
}

describe('SAML web login through the gateway API', () => {
  it('serves SP metadata with the entity id, the ACS URL and WantAssertionsSigned', async () => {
    const res = await fetch(`${api}/auth/saml/metadata`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/xml/);
    const xml = await res.text();
    expect(xml).toContain(`entityID="${SP.entityId}"`);
    expect(xml).toMatch(new RegExp(`AssertionConsumerService[^>]*Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"[^>]*Location="${SP.acsUrl}"`));
    expect(xml).toContain('WantAssertionsSigned="true"');
  });

  it('redirects to the IdP with an AuthnRequest (HTTP-Redirect binding) and the RelayState', async () => {
    const { location, request } = await startLogin('/reviews');
    expect(`${location.origin}${location.pathname}`).toBe(idp.ssoUrl);
    expect(location.searchParams.get('RelayState')).toBe('/reviews');
    expect(request).toContain(`AssertionConsumerServiceURL="${SP.acsUrl}"`);
    expect(request).toContain(`Destination="${idp.ssoUrl}"`);
    expect(request).toContain(`>${SP.entityId}</saml:Issuer>`);
    // Only local paths are carried: anything else falls back to /.
    expect((await startLogin('https://evil.test/')).location.searchParams.get('RelayState')).toBe('/');
    expect((await startLogin('//evil.test/')).location.searchParams.get('RelayState')).toBe('/');
  });

  it('a good signed assertion logs in: session cookie, /api/me shows subject and groups, the token says saml', async () => {
    const res = await postAcs(idp.response({ nameId: 'alice', groups: ['dba', 'oncall', 'dba'] }));
    expect(res.status, await res.text()).toBe(302);
    expect(res.headers.get('location')).toBe('/');
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('airlock_session='))!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = sessionCookieOf(res)!;

    const me = await fetch(`${api}/api/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    const body = (await me.json()) as { subject: string; groups: string[]; kind: string; credentialId: string };
    expect(body.subject).toBe('alice');
    expect(body.groups).toEqual(['dba', 'oncall']);
    expect(body.kind).toBe('user');

    const tokens = (await (await fetch(`${api}/api/tokens`, { headers: { authorization: `Bearer ${adminToken}` } })).json()) as {
      tokens: { id: string; subject: string; description: string | null }[];
    };
    const token = tokens.tokens.find((t) => t.id === body.credentialId)!;
    expect(token.subject).toBe('alice');
    expect(token.description).toBe('web login via saml');

    const audit = await gw.gw.store.listAudit({ subject: 'alice' });
    expect(audit.some((a) => a.action === 'login.saml')).toBe(true);
  });

  it('a login started here (InResponseTo) returns to the RelayState path, and its request is answered only once', async () => {
    const { id } = await startLogin('/reviews');
    const res = await postAcs(idp.response({ nameId: 'carol', groups: ['dba'], inResponseTo: id }), '/reviews');
    expect(res.status, await res.text()).toBe(302);
    expect(res.headers.get('location')).toBe('/reviews');
    expect(sessionCookieOf(res)).toBeDefined();
    // A second (fresh, validly signed) response to the same request.
    await expectRefused(idp.response({ nameId: 'carol', inResponseTo: id }), /does not answer a pending login request/);
  });

  it('a RelayState that is not a local path is ignored', async () => {
    const res = await postAcs(idp.response({ nameId: 'dave' }), 'https://evil.test/phish');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('/');
  });

  it('refuses an InResponseTo we never issued, also when only the SubjectConfirmationData carries it', async () => {
    await expectRefused(idp.response({ inResponseTo: '_never-issued' }), /does not answer a pending login request/);
    await expectRefused(idp.response({ subjectInResponseTo: '_never-issued' }), /does not answer a pending login request/);
    const { id } = await startLogin();
    await expectRefused(idp.response({ inResponseTo: id, subjectInResponseTo: '_other' }), /does not answer a pending login request/);
  });

  it('refuses an unsigned assertion', async () => {
    await expectRefused(idp.response({ signAssertion: false }), /assertion is not signed/);
  });

  it('refuses a signed Response wrapping an unsigned Assertion', async () => {
    await expectRefused(idp.response({ signAssertion: false, signResponse: true }), /assertion is not signed/);
  });

  it('refuses an assertion signed with another key (even with its certificate in KeyInfo)', async () => {
    await expectRefused(idp.response({ signWith: forger }), /signature is not valid/);
    await expectRefused(idp.response({ signWith: forger, signResponse: true }), /signature is not valid/);
  });

  it('refuses an assertion altered after signing (NameID changed)', async () => {
    const body = await expectRefused(
      idp.response({ nameId: 'alice', tamper: (xml) => xml.replace('>alice</saml:NameID>', '>root</saml:NameID>') }),
      /signature is not valid/,
    );
    expect(body).not.toContain('root');
  });

  it('reads the signed NameID, not the text before an inserted comment', async () => {
    // Comments are outside exclusive c14n, so the signature still verifies; the subject must be the whole value.
    const res = await postAcs(idp.response({ nameId: 'kim.contractor', tamper: (xml) => xml.replace('>kim.contractor<', '>kim<!---->.contractor<') }));
    expect(res.status, await res.text()).toBe(302);
    const me = (await (await fetch(`${api}/api/me`, { headers: { cookie: sessionCookieOf(res)! } })).json()) as { subject: string };
    expect(me.subject).toBe('kim.contractor');
  });

  it('refuses a wrapped second assertion (signature wrapping)', async () => {
    const signed = idp.responseXml({ nameId: 'alice' });
    const evil = idp.responseXml({ nameId: 'root', signAssertion: false });
    const evilAssertion = /<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(evil)![0];
    const wrapped = signed.replace('<samlp:Status>', `<samlp:Extensions>${/<saml:Assertion[\s\S]*<\/saml:Assertion>/.exec(signed)![0]}</samlp:Extensions><samlp:Status>`);
    await expectRefused(Buffer.from(wrapped).toString('base64'), /exactly one assertion/);
    const swapped = signed.replace(/<saml:Assertion[\s\S]*<\/saml:Assertion>/, (a) => `${evilAssertion}`.replace('</saml:Assertion>', `<saml:Advice>${a}</saml:Advice></saml:Assertion>`));
    await expectRefused(Buffer.from(swapped).toString('base64'), /exactly one assertion|not signed/);
  });

  it('refuses an encrypted assertion, alone or next to a signed one', async () => {
    const encrypted = '<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>';
    await expectRefused(idp.response({ tamper: (xml) => xml.replace(/<saml:Assertion[\s\S]*<\/saml:Assertion>/, encrypted) }), /encrypted assertions are not supported/);
    await expectRefused(idp.response({ tamper: (xml) => xml.replace('</samlp:Response>', `${encrypted}</samlp:Response>`) }), /encrypted assertions are not supported/);
  });

  it('refuses an assertion that carries two signatures', async () => {
    await expectRefused(idp.response({ tamper: (xml) => xml.replace(/<ds:Signature[\s\S]*?<\/ds:Signature>/, (sig) => sig + sig) }), /more than one signature/);
  });

  it('refuses a validly signed assertion without Conditions', async () => {
    await expectRefused(idp.response({ beforeSigning: (a) => a.replace(/<saml:Conditions[\s\S]*<\/saml:Conditions>/, '') }), /has no Conditions \(an audience restriction is required\)/);
  });

  it('refuses a validly signed assertion without a bearer SubjectConfirmation', async () => {
    await expectRefused(
      idp.response({ beforeSigning: (a) => a.replace('urn:oasis:names:tc:SAML:2.0:cm:bearer', 'urn:oasis:names:tc:SAML:2.0:cm:holder-of-key') }),
      /no bearer SubjectConfirmation/,
    );
  });

  it('refuses a wrong audience', async () => {
    await expectRefused(idp.response({ audience: 'https://other-sp.test/saml' }), /meant for another service/);
  });

  it('refuses an expired assertion, and one not yet valid; tolerates the configured skew', async () => {
    await expectRefused(idp.response({ notBeforeMs: -20 * 60_000, notOnOrAfterMs: -5 * 60_000 }), /has expired/);
    await expectRefused(idp.response({ notBeforeMs: 5 * 60_000, notOnOrAfterMs: 10 * 60_000 }), /not valid yet/);
    const withinSkew = await postAcs(idp.response({ nameId: 'erin', notBeforeMs: -5 * 60_000, notOnOrAfterMs: -10_000 }));
    expect(withinSkew.status).toBe(302);
  });

  it('refuses the same assertion a second time (replay)', async () => {
    const response = idp.response({ nameId: 'frank', groups: ['dba'] });
    const first = await postAcs(response);
    expect(first.status).toBe(302);
    await expectRefused(response, /already used/);
  });

  it('refuses a replay after the gateway restarts: used assertion ids are kept in the store', async () => {
    const response = idp.response({ nameId: 'frank', groups: ['dba'] });
    expect((await postAcs(response)).status).toBe(302);
    const loaded = { config: gw.gw.loaded.config, path: undefined, dataDir: gw.dataDir };
    await gw.gw.stop();
    const restarted = await Gateway.start(loaded, { log: silentLogger });
    try {
      const port = restarted.listeners.get('api')!.port;
      api = `http://127.0.0.1:${port}`;
      await expectRefused(response, /already used/);
    } finally {
      await restarted.stop();
      gw = await startGateway({ listen: { api: '127.0.0.1:0' }, identity: { roles: { admin: ['platform'] }, saml: samlConfig() } });
      api = `http://127.0.0.1:${gw.gw.listeners.get('api')!.port}`;
      adminToken = await gw.token('root', ['platform']);
    }
  });

  it('refuses at a second service provider on the same store what the first accepted (a fleet)', async () => {
    const file = `${gw.dataDir}/fleet-${Date.now()}.db`;
    const [a, b] = [new SqliteStore(file, { writerThread: false }), new SqliteStore(file, { writerThread: false })];
    const config = parseConfig({ identity: { saml: samlConfig() } }, process.cwd()).identity.saml!;
    const response = idp.response({ nameId: 'gina' });
    await new SamlServiceProvider(config, a).acs(response);
    await expect(new SamlServiceProvider(config, b).acs(response)).rejects.toThrow(/already used/);
    await a.close();
    await b.close();
  });

  it('refuses another Recipient, another Destination, another Issuer', async () => {
    await expectRefused(idp.response({ recipient: 'https://other-sp.test/acs' }), /Recipient/);
    await expectRefused(idp.response({ destination: 'https://other-sp.test/acs' }), /Destination/);
    await expectRefused(idp.response({ issuer: 'https://other-idp.test' }), /another identity provider/);
    // No Destination at all is fine (it is optional on unsigned responses).
    expect((await postAcs(idp.response({ nameId: 'gina', destination: null }))).status).toBe(302);
  });

  it('refuses SHA-1 signatures', async () => {
    await expectRefused(idp.response({ signatureAlgorithm: ALG.rsaSha1, digestAlgorithm: ALG.sha1 }), /SHA-1/);
  });

  it('passes on an IdP error status without a session', async () => {
    await expectRefused(idp.response({ statusCode: 'urn:oasis:names:tc:SAML:2.0:status:Requester', signAssertion: false }), /did not log you in \(status: Requester\)/);
  });

  it('explains a subject that cannot be a gateway user name, without echoing it', async () => {
    const body = await expectRefused(idp.response({ nameId: 'alice@example.com' }), /subjectAttribute/);
    expect(body).not.toContain('alice@example.com');
  });

  it('refuses garbage, a DTD, and an oversized body', async () => {
    await expectRefused('not base64 at all!', /not base64/);
    await expectRefused(Buffer.from('<x>').toString('base64'), /not acceptable XML/);
    const dtd = idp.responseXml().replace('<samlp:Response', '<!DOCTYPE r [<!ENTITY a "b">]><samlp:Response');
    await expectRefused(Buffer.from(dtd).toString('base64'), /DTD/);
    const missing = await fetch(`${api}/auth/saml/acs`, { method: 'POST', body: new URLSearchParams({ other: 'x' }), redirect: 'manual' });
    expect(missing.status).toBe(401);
    const huge = await fetch(`${api}/auth/saml/acs`, { method: 'POST', body: new URLSearchParams({ SAMLResponse: 'A'.repeat(2 * 1024 * 1024) }) });
    expect(huge.status).toBe(413);
  });

  it('the SAML routes are public, the rest of the API still is not', async () => {
    expect((await fetch(`${api}/api/me`)).status).toBe(401);
    const openapi = (await (await fetch(`${api}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { 'x-airlock-roles': unknown }>> };
    expect(openapi.paths['/auth/saml/acs'].post['x-airlock-roles']).toBe('public');
  });
});

describe('SAML service provider options', () => {
  const spWith = (extra: Record<string, unknown>) => new SamlServiceProvider(parseConfig({ identity: { saml: samlConfig(extra) } }, process.cwd()).identity.saml!, new SqliteStore(':memory:'));

  it('allowIdpInitiated: false refuses unsolicited responses, accepts answers to our requests', async () => {
    const sp = spWith({ allowIdpInitiated: false });
    await expect(sp.acs(idp.response())).rejects.toThrow(/started at the identity provider are not accepted/);
    const url = new URL(await sp.loginUrl('/x'));
    const request = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest')!, 'base64')).toString('utf8');
    const id = /\sID="([^"]+)"/.exec(request)![1];
    expect(sp.pendingRequests).toBe(1);
    const login = await sp.acs(idp.response({ nameId: 'hank', groups: ['a', 'b'], inResponseTo: id }), '/x');
    expect(login.identity).toMatchObject({ subject: 'hank', groups: ['a', 'b'], kind: 'user', authMethod: 'saml' });
    expect(login.returnTo).toBe('/x');
    expect(sp.pendingRequests).toBe(0);
  });

  it('subjectAttribute maps another attribute to the subject; groups match on the attribute name', async () => {
    const sp = spWith({ subjectAttribute: 'uid', groupsAttribute: 'memberOf' });
    const login = await sp.acs(idp.response({ nameId: 'ivy@example.com', attributes: { uid: ['ivy'], memberOf: ['ops', 'dba'] } }));
    expect(login.identity.subject).toBe('ivy');
    expect(login.identity.groups).toEqual(['ops', 'dba']);
    await expect(sp.acs(idp.response({ attributes: { memberOf: ['ops'] } }))).rejects.toThrow(/exactly one value of the subject attribute uid/);
  });

  it('a configured audience overrides the entity id', async () => {
    const sp = spWith({ audience: 'urn:airlock' });
    await expect(sp.acs(idp.response())).rejects.toThrow(/meant for another service/);
    expect((await sp.acs(idp.response({ audience: 'urn:airlock' }))).identity.subject).toBe('alice');
  });

  it('accepts either certificate during a rollover', async () => {
    const sp = spWith({ idpCert: [forger.cert, idp.signing.cert] });
    expect((await sp.acs(idp.response({ signWith: forger }))).identity.subject).toBe('alice');
    expect((await sp.acs(idp.response())).identity.subject).toBe('alice');
  });

  it('signs AuthnRequests when spPrivateKey/spCert are set, and publishes the certificate in metadata', async () => {
    const spKey = await signingKey('airlock-sp');
    const sp = spWith({ spPrivateKey: spKey.key, spCert: spKey.cert });
    const url = new URL(await sp.loginUrl());
    expect(url.searchParams.get('SigAlg')).toBe(ALG.rsaSha256);
    expect(url.searchParams.get('Signature')).toBeTruthy();
    const metadata = sp.metadata();
    expect(metadata).toContain('AuthnRequestsSigned="true"');
    expect(metadata).toContain(spKey.cert.replace(/-----[^-]+-----|\s/g, '').slice(0, 40));
  });
});
