import { SAML, SamlStatusError, ValidateInResponseTo } from '@node-saml/node-saml';
import { randomBytes } from 'node:crypto';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';
import { parseDuration } from '../../core/duration.ts';
import type { ControlStore } from '../../store/control-types.ts';
import { RequestIdCache } from './cache.ts';
import { certificateToPem, type SamlSpConfig } from './config.ts';
import { NS, attr, child, children, descendants, parseXml, text } from './xml.ts';

/** Largest SAMLResponse accepted, decoded (real ones are a few KiB; big group lists stay well under this). */
export const MAX_RESPONSE_BYTES = 256 * 1024;
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const SHA1 = /#(?:rsa-|dsa-|ecdsa-|hmac-)?sha1$/;
const MAX_GROUPS = 500;
/** Same rule as gateway tokens (the web session is a gateway token for this subject). */
const SUBJECT_RULE = /^[^\s+@]{1,128}$/;

/** An identity that logged in through SAML, with where to send the browser next. */
export interface SamlLogin {
  readonly identity: Identity;
  /** A local path (`/…`) the login was started from, when the IdP echoed a usable RelayState. */
  readonly returnTo: string;
}

/** A refusal the browser may see. Reasons say what was wrong, never what the assertion contained. */
function refuse(reason: string, cause?: unknown): AirlockError {
  return new AirlockError(ErrorCodes.authFailed, reason, { expose: true, cause });
}

/** `/path?query` on this origin only: no scheme, no `//host`, no backslashes or control characters. */
export function safeReturnPath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) return undefined;
  if (!value.startsWith('/') || value.startsWith('//') || /[\\\x00-\x1f\x7f]/.test(value)) return undefined;
  return value;
}

function timeOf(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t) || !/^\d{4}-\d\d-\d\dT/.test(value)) throw refuse(`the assertion has an invalid ${what} time`);
  return t;
}

/**
 * Airlock as a SAML 2.0 Service Provider, on top of node-saml (signature verification through xml-crypto,
 * which only ever returns the bytes a signature covers). On top of what node-saml checks, every login needs:
 * a signed Assertion (a signed Response around an unsigned one is refused), our audience, the configured
 * IdP as Issuer, Destination (when present) and a bearer SubjectConfirmation whose Recipient are our ACS URL
 * and whose NotOnOrAfter has not passed, InResponseTo naming a request we sent (once) when present, and an
 * assertion id not used before. All of it is read from the signed bytes, except Destination and the
 * Response's InResponseTo, which live outside the assertion.
 */
export class SamlServiceProvider {
  private readonly saml: SAML;
  private readonly requests: RequestIdCache;
  private readonly skewMs: number;
  private readonly audience: string;

  /**
   * `usedIds` remembers the assertion ids already accepted: the store, so a replay is refused after a restart and
   * at every other gateway on the same store.
   */
  constructor(
    readonly config: SamlSpConfig,
    private readonly usedIds: Pick<ControlStore, 'useOnce'>,
    private readonly now: () => number = Date.now,
  ) {
    this.skewMs = parseDuration(config.clockSkew);
    const requestTtlMs = parseDuration(config.requestTtl);
    this.audience = config.audience ?? config.entityId;
    this.requests = new RequestIdCache(requestTtlMs);
    const certs = (Array.isArray(config.idpCert) ? config.idpCert : [config.idpCert]).map(certificateToPem);
    this.saml = new SAML({
      issuer: config.entityId,
      callbackUrl: config.acsUrl,
      entryPoint: config.idpSsoUrl,
      idpCert: certs,
      idpIssuer: config.idpEntityId,
      audience: this.audience,
      wantAssertionsSigned: true,
      // Many IdPs sign only the assertion; the assertion signature is what we require and read.
      wantAuthnResponseSigned: false,
      acceptedClockSkewMs: this.skewMs,
      validateInResponseTo: ValidateInResponseTo.ifPresent,
      requestIdExpirationPeriodMs: requestTtlMs,
      cacheProvider: this.requests,
      identifierFormat: config.nameIdFormat,
      // A fixed RequestedAuthnContext (password, exact) makes some IdPs refuse users who log in with MFA.
      disableRequestedAuthnContext: true,
      generateUniqueId: () => `_${randomBytes(20).toString('hex')}`,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      ...(config.spPrivateKey && config.spCert ? { privateKey: config.spPrivateKey, publicCert: certificateToPem(config.spCert) } : {}),
    });
  }

  /** SP metadata for the IdP administrator: entity id, ACS (HTTP-POST), WantAssertionsSigned, our signing cert if any. */
  metadata(): string {
    const cert = this.config.spCert ? certificateToPem(this.config.spCert) : null;
    return this.saml.generateServiceProviderMetadata(null, cert);
  }

  /** The IdP URL to send the browser to (HTTP-Redirect binding), carrying a fresh AuthnRequest and `returnTo` as RelayState. */
  async loginUrl(returnTo = '/'): Promise<string> {
    return this.saml.getAuthorizeUrlAsync(safeReturnPath(returnTo) ?? '/', undefined, {});
  }

  /** Number of AuthnRequests waiting for an answer (for tests and metrics). */
  get pendingRequests(): number {
    return this.requests.size;
  }

  /**
   * Validates an HTTP-POST `SAMLResponse` (base64) and returns the identity it proves. Every refusal is an
   * expose-safe AirlockError(authFailed) naming the reason.
   */
  async acs(samlResponse: unknown, relayState?: unknown): Promise<SamlLogin> {
    const xml = decode(samlResponse);
    let doc: Document;
    try {
      doc = parseXml(xml);
    } catch (err) {
      throw refuse(`SAMLResponse is not acceptable XML: ${(err as Error).message}`, err);
    }
    const response = doc.documentElement;
    if (response.localName !== 'Response' || response.namespaceURI !== NS.protocol) throw refuse('SAMLResponse is not a SAML 2.0 Response');
    this.precheck(response);

    let profile;
    try {
      ({ profile } = await this.saml.validatePostResponseAsync({ SAMLResponse: Buffer.from(xml, 'utf8').toString('base64') }));
    } catch (err) {
      throw this.explain(err);
    }
    if (!profile?.getAssertionXml) throw refuse('the response carries no assertion');

    // Everything below reads the signed assertion only.
    let assertion: Element;
    try {
      assertion = parseXml(profile.getAssertionXml()).documentElement;
    } catch (err) {
      throw refuse('the signed assertion could not be read', err);
    }
    if (assertion.localName !== 'Assertion' || assertion.namespaceURI !== NS.assertion) throw refuse('the signed element is not an assertion');
    return { identity: await this.checkAssertion(assertion, attr(response, 'InResponseTo')), returnTo: safeReturnPath(relayState) ?? '/' };
  }

  /** Checks on the whole (unsigned) response, mainly to say clearly why a response is refused. */
  private precheck(response: Element): void {
    const statusCode = attr(child(child(response, NS.protocol, 'Status'), NS.protocol, 'StatusCode'), 'Value');
    if (statusCode !== STATUS_SUCCESS) {
      const short = /[A-Za-z]+$/.exec(statusCode ?? '')?.[0] ?? 'missing';
      throw refuse(`the identity provider did not log you in (status: ${short})`);
    }
    const destination = attr(response, 'Destination');
    if (destination !== undefined && destination !== this.config.acsUrl) throw refuse('the response is addressed to another service (Destination does not match our ACS URL)');
    if (children(response, NS.assertion, 'EncryptedAssertion').length > 0) {
      throw refuse('encrypted assertions are not supported: turn off assertion encryption for this service provider at the IdP');
    }
    const assertions = children(response, NS.assertion, 'Assertion');
    if (assertions.length !== 1) throw refuse(assertions.length === 0 ? 'the response carries no assertion' : 'the response must carry exactly one assertion');
    if (descendants(response, NS.assertion, 'Assertion').length !== 1) throw refuse('the response must carry exactly one assertion');
    const signature = children(assertions[0], NS.dsig, 'Signature');
    if (signature.length === 0) throw refuse('the assertion is not signed: this service provider requires signed assertions');
    if (signature.length > 1) throw refuse('the assertion carries more than one signature');
    const signedInfo = child(signature[0], NS.dsig, 'SignedInfo');
    const algorithms = [
      attr(child(signedInfo, NS.dsig, 'SignatureMethod'), 'Algorithm'),
      ...descendants(signature[0], NS.dsig, 'DigestMethod').map((d) => attr(d, 'Algorithm')),
    ];
    if (algorithms.some((a) => a !== undefined && SHA1.test(a))) throw refuse('the assertion is signed with SHA-1, which is refused: configure the IdP to sign with RSA-SHA256');
    if (!child(assertions[0], NS.assertion, 'Conditions')) throw refuse('the assertion has no Conditions (an audience restriction is required)');
  }

  /** node-saml's errors, turned into reasons a person can act on (never repeating values from the assertion). */
  private explain(err: unknown): AirlockError {
    if (err instanceof AirlockError) return err;
    if (err instanceof SamlStatusError) return refuse('the identity provider did not log you in', err);
    const m = err instanceof Error ? err.message : String(err);
    if (/InResponseTo/i.test(m)) return refuse('the response does not answer a pending login request of this service (unknown, already used or expired): start the login again', err);
    if (/signature/i.test(m)) return refuse('the assertion signature is not valid (not signed with the configured IdP certificate, or altered after signing)', err);
    if (/not yet valid/i.test(m)) return refuse('the assertion is not valid yet (NotBefore is in the future: check the clocks)', err);
    if (/expired|No valid subject confirmation/i.test(m)) return refuse('the assertion has expired', err);
    if (/audience/i.test(m)) return refuse(`the assertion is meant for another service (its audience is not ${this.audience})`, err);
    return refuse('the SAML response is not valid', err);
  }

  private async checkAssertion(assertion: Element, responseInResponseTo: string | undefined): Promise<Identity> {
    const now = Date.now();
    const issuer = text(child(assertion, NS.assertion, 'Issuer'));
    if (issuer !== this.config.idpEntityId) throw refuse('the assertion was issued by another identity provider (Issuer does not match idpEntityId)');
    const id = attr(assertion, 'ID');
    if (!id) throw refuse('the assertion has no ID');

    // Conditions: validity window and audience (node-saml checked these too; cheap to be sure on the signed bytes).
    const conditions = children(assertion, NS.assertion, 'Conditions');
    if (conditions.length !== 1) throw refuse('the assertion must have exactly one Conditions element');
    const notBefore = timeOf(attr(conditions[0], 'NotBefore'), 'NotBefore');
    const conditionsEnd = timeOf(attr(conditions[0], 'NotOnOrAfter'), 'NotOnOrAfter');
    if (notBefore !== undefined && now + this.skewMs < notBefore) throw refuse('the assertion is not valid yet (NotBefore is in the future: check the clocks)');
    if (conditionsEnd !== undefined && now - this.skewMs >= conditionsEnd) throw refuse('the assertion has expired');
    const restrictions = children(conditions[0], NS.assertion, 'AudienceRestriction');
    if (restrictions.length === 0 || !restrictions.every((r) => children(r, NS.assertion, 'Audience').some((a) => text(a) === this.audience))) {
      throw refuse(`the assertion is meant for another service (its audience is not ${this.audience})`);
    }

    // Subject and a bearer confirmation for our ACS that is still valid.
    const subjectEl = child(assertion, NS.assertion, 'Subject');
    if (!subjectEl) throw refuse('the assertion has no Subject');
    const bearers = children(subjectEl, NS.assertion, 'SubjectConfirmation')
      .filter((c) => attr(c, 'Method') === BEARER)
      .map((c) => child(c, NS.assertion, 'SubjectConfirmationData'));
    if (bearers.length === 0) throw refuse('the assertion has no bearer SubjectConfirmation');
    const forUs = bearers.filter((d) => attr(d, 'Recipient') === this.config.acsUrl);
    if (forUs.length === 0) throw refuse('the assertion is addressed to another service (Recipient does not match our ACS URL)');
    const live = forUs.filter((d) => {
      const end = timeOf(attr(d, 'NotOnOrAfter'), 'SubjectConfirmationData NotOnOrAfter');
      const start = timeOf(attr(d, 'NotBefore'), 'SubjectConfirmationData NotBefore');
      return end !== undefined && now - this.skewMs < end && (start === undefined || now + this.skewMs >= start);
    });
    if (live.length === 0) {
      if (forUs.every((d) => attr(d, 'NotOnOrAfter') === undefined)) throw refuse('the assertion has no SubjectConfirmationData NotOnOrAfter');
      throw refuse('the assertion has expired');
    }
    const confirmation = live[0]!;
    const confirmationEnd = timeOf(attr(confirmation, 'NotOnOrAfter'), 'NotOnOrAfter')!;

    // InResponseTo: node-saml checked (and used up) the Response's one; the confirmation's must agree with it,
    // or, when the Response has none, name a request we sent.
    const confirmationIrt = attr(confirmation, 'InResponseTo');
    const pendingMiss = () => refuse('the response does not answer a pending login request of this service (unknown, already used or expired): start the login again');
    if (responseInResponseTo !== undefined && confirmationIrt !== undefined && confirmationIrt !== responseInResponseTo) throw pendingMiss();
    if (responseInResponseTo === undefined && confirmationIrt !== undefined) {
      if ((await this.requests.getAsync(confirmationIrt)) === null) throw pendingMiss();
    }
    // A request is answered once (node-saml does not always forget it on success).
    await this.requests.removeAsync(responseInResponseTo ?? null);
    await this.requests.removeAsync(confirmationIrt ?? null);
    if (responseInResponseTo === undefined && confirmationIrt === undefined && !this.config.allowIdpInitiated) throw refuse('logins started at the identity provider are not accepted here: start the login at /auth/saml/login');

    const identity = this.identityFrom(assertion, subjectEl, id);

    // Replay: last, so only a fully valid assertion is remembered; kept until no check above could pass again.
    const rememberUntil = Math.max(confirmationEnd, conditionsEnd ?? 0) + this.skewMs;
    if (!(await this.usedIds.useOnce(`saml:${issuer}\u0000${id}`, rememberUntil, this.now()))) throw refuse('this assertion was already used (replayed): log in again');
    return identity;
  }

  private identityFrom(assertion: Element, subjectEl: Element, assertionId: string): Identity {
    const attributes = children(assertion, NS.assertion, 'AttributeStatement').flatMap((s) => children(s, NS.assertion, 'Attribute'));
    const valuesOf = (name: string): string[] => {
      const byName = attributes.filter((a) => attr(a, 'Name') === name);
      const matched = byName.length > 0 ? byName : attributes.filter((a) => attr(a, 'FriendlyName') === name);
      return matched.flatMap((a) => children(a, NS.assertion, 'AttributeValue').map((v) => text(v) ?? '')).filter((v) => v !== '');
    };

    const nameIdEl = child(subjectEl, NS.assertion, 'NameID');
    const nameId = text(nameIdEl);
    let subject: string | undefined;
    if (this.config.subjectAttribute) {
      const values = valuesOf(this.config.subjectAttribute);
      if (values.length !== 1) throw refuse(`the assertion must carry exactly one value of the subject attribute ${this.config.subjectAttribute}`);
      subject = values[0];
    } else {
      if (!nameId) throw refuse('the assertion has no NameID (or set identity.saml.subjectAttribute)');
      subject = nameId;
    }
    if (/[\x00-\x1f\x7f]/.test(subject) || !SUBJECT_RULE.test(subject)) {
      throw refuse('the SAML subject cannot be used as an Airlock user name (1-128 characters, without spaces, + or @): map another attribute with identity.saml.subjectAttribute, or have the IdP send a user name as NameID');
    }

    const groups = [...new Set(valuesOf(this.config.groupsAttribute).filter((g) => g.length <= 256 && !/[\x00-\x1f\x7f]/.test(g)))].slice(0, MAX_GROUPS);
    const sessionIndex = attr(child(assertion, NS.assertion, 'AuthnStatement'), 'SessionIndex');
    return {
      subject,
      groups,
      kind: 'user',
      authMethod: 'saml',
      credentialId: assertionId,
      claims: {
        issuer: this.config.idpEntityId,
        ...(nameId ? { nameId: nameId.slice(0, 256) } : {}),
        ...(attr(nameIdEl, 'Format') ? { nameIdFormat: attr(nameIdEl, 'Format') } : {}),
        ...(sessionIndex ? { sessionIndex: sessionIndex.slice(0, 256) } : {}),
      },
    };
  }
}

function decode(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw refuse('the request carries no SAMLResponse');
  const b64 = value.replace(/[\r\n\t ]/g, '');
  if (b64.length > Math.ceil(MAX_RESPONSE_BYTES / 3) * 4) throw refuse('SAMLResponse is too large');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) throw refuse('SAMLResponse is not base64');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(b64, 'base64'));
  } catch (err) {
    throw refuse('SAMLResponse is not UTF-8 text', err);
  }
}
