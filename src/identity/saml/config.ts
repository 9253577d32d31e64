import { X509Certificate, createPrivateKey } from 'node:crypto';
import { z } from 'zod';
import { webUrl } from '../../config/urls.ts';
import { parseDuration } from '../../core/duration.ts';

/**
 * `identity.saml`: Airlock as a SAML 2.0 Service Provider for the web login (SP-initiated, HTTP-Redirect
 * AuthnRequest, HTTP-POST response to the ACS). Certificates are checked when the configuration loads, so a
 * pasted-wrong certificate fails at startup rather than at the first login.
 */

const MAX_SKEW_MS = 5 * 60_000;

const duration = z.string().regex(/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/, 'expected a duration such as 30s, 5m, 1h');

/** A certificate as PEM, or as the bare base64 found in IdP metadata (`<ds:X509Certificate>`), normalised to PEM. */
export function certificateToPem(text: string): string {
  const trimmed = text.trim();
  if (trimmed.includes('-----BEGIN')) {
    const blocks = trimmed.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length !== 1) throw new Error('expected exactly one PEM CERTIFICATE block (use a list for several certificates)');
    return new X509Certificate(blocks[0]).toString();
  }
  const b64 = trimmed.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('not PEM and not base64');
  return new X509Certificate(Buffer.from(b64, 'base64')).toString();
}

const certificate = (what: string) =>
  z.string().min(1).superRefine((v, ctx) => {
    try {
      certificateToPem(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${what} is not a usable X.509 certificate (${(err as Error).message})` });
    }
  });

export const samlSchema = z
  .object({
    /** Our SP entity id (what the IdP knows this service as); also the expected audience unless `audience` is set. */
    entityId: z.string().min(1).max(1024),
    /** Where the IdP posts responses: `https://airlock.example.com/auth/saml/acs`. Must match Destination/Recipient exactly. */
    acsUrl: webUrl('acsUrl', false),
    /** The IdP's entity id; assertions from any other issuer are refused. */
    idpEntityId: z.string().min(1).max(1024),
    /** The IdP's SSO endpoint for the HTTP-Redirect binding. */
    idpSsoUrl: webUrl('idpSsoUrl', true),
    /** The IdP's signing certificate (PEM, base64 or `${file:…}`); a list during a certificate rollover. */
    idpCert: z.union([certificate('idpCert'), z.array(certificate('idpCert')).min(1).max(8)]),
    /** Multi-valued attribute whose values become the groups (matched on Name, then FriendlyName). */
    groupsAttribute: z.string().min(1).default('groups'),
    /** Attribute to use as the subject instead of the NameID. */
    subjectAttribute: z.string().min(1).optional(),
    /** NameIDPolicy Format asked for in the AuthnRequest (default unspecified). */
    nameIdFormat: z.string().min(1).default('urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified'),
    /** Expected Audience, when the IdP sends something other than entityId. */
    audience: z.string().min(1).optional(),
    /** Tolerance for NotBefore/NotOnOrAfter (default 30s, at most 5m). */
    clockSkew: duration.default('30s'),
    /** How long an AuthnRequest we sent can be answered (default 10m). */
    requestTtl: duration.default('10m'),
    /** Accept responses without InResponseTo (IdP-initiated login). Default true; set false to allow only logins started here. */
    allowIdpInitiated: z.boolean().default(true),
    /** Optional RSA key + certificate to sign AuthnRequests (HTTP-Redirect query signature, RSA-SHA256). */
    spPrivateKey: z.string().min(1).optional(),
    spCert: certificate('spCert').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    for (const key of ['clockSkew', 'requestTtl'] as const) {
      let ms: number;
      try {
        ms = parseDuration(o[key]);
      } catch {
        continue;
      }
      if (key === 'clockSkew' && ms > MAX_SKEW_MS) ctx.addIssue({ code: 'custom', path: [key], message: 'clockSkew must be at most 5m' });
      if (key === 'requestTtl' && (ms < 10_000 || ms > 24 * 3_600_000)) ctx.addIssue({ code: 'custom', path: [key], message: 'requestTtl must be between 10s and 24h' });
    }
    if (Boolean(o.spPrivateKey) !== Boolean(o.spCert)) {
      ctx.addIssue({ code: 'custom', path: [o.spPrivateKey ? 'spCert' : 'spPrivateKey'], message: 'spPrivateKey and spCert go together (both or neither)' });
    }
    if (o.spPrivateKey) {
      let type: string | undefined;
      try {
        type = createPrivateKey(o.spPrivateKey).asymmetricKeyType;
      } catch {
        ctx.addIssue({ code: 'custom', path: ['spPrivateKey'], message: 'spPrivateKey is not a usable PEM private key' });
      }
      if (type && type !== 'rsa') ctx.addIssue({ code: 'custom', path: ['spPrivateKey'], message: 'spPrivateKey must be an RSA key (AuthnRequests are signed with RSA-SHA256)' });
    }
  });

export type SamlSpConfig = z.infer<typeof samlSchema>;
/** What a caller may write (defaults not yet applied). */
export type SamlSpConfigInput = z.input<typeof samlSchema>;
