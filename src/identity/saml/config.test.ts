import { describe, expect, it } from 'vitest';
import { generate } from 'selfsigned';
import { parseConfig } from '../../config/load.ts';
import { certificateToPem } from './config.ts';

const pems = await generate([{ name: 'commonName', value: 'idp' }], { keySize: 2048, algorithm: 'sha256' });
const base = {
  entityId: 'https://airlock.example.com/saml',
  acsUrl: 'https://airlock.example.com/auth/saml/acs',
  idpEntityId: 'https://idp.example.com',
  idpSsoUrl: 'https://idp.example.com/sso?idpid=abc',
  idpCert: pems.cert,
};
const parse = (saml: Record<string, unknown>) => parseConfig({ identity: { saml } }, process.cwd());

describe('identity.saml configuration', () => {
  it('is optional, and applies defaults when present', () => {
    expect(parseConfig({}, process.cwd()).identity.saml).toBeUndefined();
    expect(parse(base).identity.saml).toMatchObject({ groupsAttribute: 'groups', clockSkew: '30s', requestTtl: '10m', allowIdpInitiated: true });
  });

  it('accepts the certificate as PEM or as the bare base64 of IdP metadata, and normalises both', () => {
    const bare = pems.cert.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    expect(certificateToPem(bare)).toBe(certificateToPem(pems.cert));
    expect(parse({ ...base, idpCert: bare }).identity.saml?.idpCert).toBe(bare);
    expect(() => parse({ ...base, idpCert: 'MIIBroken' })).toThrow(/idpCert is not a usable X.509 certificate/);
    expect(() => parse({ ...base, idpCert: `${pems.cert}\n${pems.cert}` })).toThrow(/exactly one PEM CERTIFICATE/);
  });

  it('refuses plain http off loopback, credentials in URLs, and unknown keys', () => {
    expect(() => parse({ ...base, acsUrl: 'http://airlock.example.com/auth/saml/acs' })).toThrow(/acsUrl .* must use https/);
    expect(parse({ ...base, acsUrl: 'http://127.0.0.1:8080/auth/saml/acs' }).identity.saml?.acsUrl).toContain('127.0.0.1');
    expect(() => parse({ ...base, acsUrl: 'https://airlock.example.com/acs?x=1' })).toThrow(/acsUrl must not contain/);
    expect(() => parse({ ...base, idpSsoUrl: 'https://u:p@idp.example.com/sso' })).toThrow(/idpSsoUrl must not contain/);
    expect(() => parse({ ...base, wantAssertionsSigned: false })).toThrow(/wantAssertionsSigned|Unrecognized/i);
  });

  it('bounds clockSkew and requestTtl, and pairs spPrivateKey with spCert', () => {
    expect(() => parse({ ...base, clockSkew: '10m' })).toThrow(/clockSkew must be at most 5m/);
    expect(() => parse({ ...base, requestTtl: '2d' })).toThrow(/requestTtl must be between/);
    expect(() => parse({ ...base, spPrivateKey: pems.private })).toThrow(/go together/);
    expect(parse({ ...base, spPrivateKey: pems.private, spCert: pems.cert }).identity.saml?.spCert).toBe(pems.cert);
  });
});
