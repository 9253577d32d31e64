/**
 * A SAML 2.0 Identity Provider the tests own: a signing key with a self-signed certificate, and hand-built
 * SAMLResponses (Response → Assertion with Issuer, Subject/NameID + bearer SubjectConfirmationData,
 * Conditions/AudienceRestriction, AuthnStatement, AttributeStatement) signed with xml-crypto: enveloped
 * signature, exclusive c14n, RSA-SHA256. Every field can be bent, so each refusal can be provoked on its own.
 */
import { randomBytes } from 'node:crypto';
import { generate } from 'selfsigned';
import { SignedXml } from 'xml-crypto';

export const ALG = {
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  rsaSha1: 'http://www.w3.org/2000/09/xmldsig#rsa-sha1',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  sha1: 'http://www.w3.org/2000/09/xmldsig#sha1',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
} as const;

export interface SigningKey {
  readonly key: string;
  readonly cert: string;
}

export async function signingKey(commonName: string): Promise<SigningKey> {
  const notAfter = new Date(Date.now() + 365 * 86_400_000);
  const pems = await generate([{ name: 'commonName', value: commonName }], { keySize: 2048, algorithm: 'sha256', notAfterDate: notAfter });
  return { key: pems.private, cert: pems.cert };
}

export interface AssertionOptions {
  /** Assertion Issuer (default the IdP's entity id). */
  issuer?: string;
  nameId?: string;
  nameIdFormat?: string;
  groups?: string[];
  /** Extra attributes: name → values. */
  attributes?: Record<string, string[]>;
  audience?: string;
  recipient?: string;
  /** Response Destination; null leaves it out. */
  destination?: string | null;
  /** Put on both the Response and the SubjectConfirmationData unless `subjectInResponseTo` says otherwise. */
  inResponseTo?: string;
  /** SubjectConfirmationData InResponseTo; null leaves it out. */
  subjectInResponseTo?: string | null;
  /** Times, relative to now in ms. */
  notBeforeMs?: number;
  notOnOrAfterMs?: number;
  assertionId?: string;
  /** Sign the assertion (default true). */
  signAssertion?: boolean;
  /** Also sign the Response (default false). */
  signResponse?: boolean;
  /** Sign with this key instead of the IdP's (its certificate goes into KeyInfo, as a forger would do). */
  signWith?: SigningKey;
  signatureAlgorithm?: string;
  digestAlgorithm?: string;
  statusCode?: string;
  /** Edits the final XML (after signing). */
  tamper?: (xml: string) => string;
  /** Edits the Assertion before it is signed (the signature stays valid: the gateway's own checks must refuse it). */
  beforeSigning?: (assertion: string) => string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const newId = () => `_${randomBytes(16).toString('hex')}`;

export class TestSamlIdp {
  constructor(
    readonly entityId: string,
    readonly ssoUrl: string,
    readonly signing: SigningKey,
    /** The SP we answer: its entity id and ACS URL. */
    readonly sp: { entityId: string; acsUrl: string },
  ) {}

  static async create(sp: { entityId: string; acsUrl: string }, entityId = 'https://idp.test/saml/metadata', ssoUrl = 'https://idp.test/saml/sso'): Promise<TestSamlIdp> {
    return new TestSamlIdp(entityId, ssoUrl, await signingKey('test-idp'), sp);
  }

  /** A Response XML string per the options. */
  responseXml(o: AssertionOptions = {}): string {
    const now = Date.now();
    const responseId = newId();
    const assertionId = o.assertionId ?? newId();
    const notBefore = iso(now + (o.notBeforeMs ?? -60_000));
    const notOnOrAfter = iso(now + (o.notOnOrAfterMs ?? 5 * 60_000));
    const issuer = o.issuer ?? this.entityId;
    const destination = o.destination === undefined ? this.sp.acsUrl : o.destination;
    const subjectIrt = o.subjectInResponseTo === undefined ? o.inResponseTo : o.subjectInResponseTo ?? undefined;
    const attributes: Record<string, string[]> = { ...(o.groups ? { groups: o.groups } : {}), ...o.attributes };
    const attributeXml = Object.entries(attributes)
      .map(
        ([name, values]) =>
          `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${values
            .map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`)
            .join('')}</saml:Attribute>`,
      )
      .join('');
    const unsigned =
      `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${assertionId}" Version="2.0" IssueInstant="${iso(now)}">` +
      `<saml:Issuer>${esc(issuer)}</saml:Issuer>` +
      `<saml:Subject><saml:NameID Format="${esc(o.nameIdFormat ?? 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified')}">${esc(o.nameId ?? 'alice')}</saml:NameID>` +
      `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData` +
      `${subjectIrt ? ` InResponseTo="${esc(subjectIrt)}"` : ''} NotOnOrAfter="${notOnOrAfter}" Recipient="${esc(o.recipient ?? this.sp.acsUrl)}"/>` +
      `</saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}"><saml:AudienceRestriction><saml:Audience>${esc(o.audience ?? this.sp.entityId)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${iso(now)}" SessionIndex="${newId()}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
      (attributeXml ? `<saml:AttributeStatement>${attributeXml}</saml:AttributeStatement>` : '') +
      `</saml:Assertion>`;
    const assertion = o.beforeSigning ? o.beforeSigning(unsigned) : unsigned;
    let xml =
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${responseId}" Version="2.0" IssueInstant="${iso(now)}"` +
      `${destination ? ` Destination="${esc(destination)}"` : ''}${o.inResponseTo ? ` InResponseTo="${esc(o.inResponseTo)}"` : ''}>` +
      `<saml:Issuer>${esc(issuer)}</saml:Issuer>` +
      `<samlp:Status><samlp:StatusCode Value="${esc(o.statusCode ?? 'urn:oasis:names:tc:SAML:2.0:status:Success')}"/></samlp:Status>` +
      assertion +
      `</samlp:Response>`;
    const key = o.signWith ?? this.signing;
    if (o.signAssertion ?? true) xml = sign(xml, 'Assertion', key, o);
    if (o.signResponse) xml = sign(xml, 'Response', key, o);
    return o.tamper ? o.tamper(xml) : xml;
  }

  /** The form field value: base64 of the Response XML. */
  response(o: AssertionOptions = {}): string {
    return Buffer.from(this.responseXml(o), 'utf8').toString('base64');
  }
}

/** Enveloped signature over the element `localName` (Assertion or Response), placed right after its Issuer. */
function sign(xml: string, localName: 'Assertion' | 'Response', key: SigningKey, o: AssertionOptions): string {
  const target = localName === 'Assertion' ? "//*[local-name(.)='Assertion']" : "/*[local-name(.)='Response']";
  const sig = new SignedXml({
    privateKey: key.key,
    publicCert: key.cert,
    signatureAlgorithm: o.signatureAlgorithm ?? ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  sig.addReference({ xpath: target, transforms: [ALG.enveloped, ALG.excC14n], digestAlgorithm: o.digestAlgorithm ?? ALG.sha256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${target}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}
