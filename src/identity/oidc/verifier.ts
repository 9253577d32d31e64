import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { OidcIssuerConfig } from '../../config/schema.ts';
import { AirlockError, ErrorCodes, isAirlockError } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';
import type { Logger } from '../../core/logger.ts';
import type { AuthContext, CredentialVerifier } from '../authenticator.ts';
import { claimValue, decideKind, keptClaims, parseGroups, subjectFrom, unmetRequirement, type Claims } from './claims.ts';
import { refuse, shown } from './errors.ts';
import { IntrospectionError } from './introspection.ts';
import { JwksUnavailableError } from './jwks.ts';
import { TrustedIssuer, type IssuerRuntimeOptions } from './issuer.ts';

/** Largest credential looked at; a JWT access token is usually 1–2 KiB. */
const MAX_TOKEN_LENGTH = 16 * 1024;
/** Gateway-issued tokens (identity/tokens.ts) are never offered to a provider's introspection endpoint. */
const GATEWAY_TOKEN_PREFIX = 'alk_';
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const OPAQUE_SHAPE = /^[\x21-\x7e]{16,4096}$/;
/** `typ` values accepted: RFC 9068 access tokens and plain JWTs (ID tokens, CI tokens). Absent is fine too. */
const ACCEPTED_TYP = new Set(['at+jwt', 'application/at+jwt', 'jwt', 'application/jwt']);

export interface OidcVerifierOptions extends IssuerRuntimeOptions {}

/**
 * Verifies identity-provider tokens presented as a password or bearer credential:
 * - JWTs (RFC 9068 access tokens, ID tokens, CI job tokens): issuer picked by the unverified `iss` among the
 *   configured ones, then signature (issuer JWKS, allowed asymmetric algorithms only), issuer, audience and
 *   exp/nbf (with clock skew) checked by jose;
 * - opaque tokens, when some issuer has `introspection:` configured: RFC 7662 introspection.
 * Then `requireClaims`, subject, groups and kind. Every refusal is an expose-safe AirlockError naming the
 * reason; the token never appears in a message or a log line.
 */
export class OidcVerifier implements CredentialVerifier {
  readonly name = 'oidc';
  private readonly byIssuer = new Map<string, TrustedIssuer>();
  private readonly introspecting: TrustedIssuer[];
  private readonly now: () => number;

  constructor(
    issuers: readonly OidcIssuerConfig[],
    private readonly options: OidcVerifierOptions = {},
  ) {
    for (const cfg of issuers) {
      if (this.byIssuer.has(cfg.issuer)) throw new AirlockError(ErrorCodes.config, `OIDC issuer ${cfg.issuer} is listed more than once`);
      this.byIssuer.set(cfg.issuer, new TrustedIssuer(cfg, options));
    }
    this.introspecting = [...this.byIssuer.values()].filter((i) => i.introspects);
    this.now = options.now ?? Date.now;
  }

  /** Builds the verifier and warms up discovery and keys (an unreachable provider is logged, not fatal). */
  static async create(issuers: readonly OidcIssuerConfig[], options: OidcVerifierOptions = {}): Promise<OidcVerifier> {
    const v = new OidcVerifier(issuers, options);
    await Promise.all([...v.byIssuer.values()].map((i) => i.warmUp()));
    return v;
  }

  get issuers(): string[] {
    return [...this.byIssuer.keys()];
  }

  accepts(credential: string): boolean {
    if (credential.length > MAX_TOKEN_LENGTH) return false;
    if (looksLikeJwt(credential)) return true;
    return this.introspecting.length > 0 && !credential.startsWith(GATEWAY_TOKEN_PREFIX) && OPAQUE_SHAPE.test(credential);
  }

  async verify(credential: string, _context?: AuthContext): Promise<Identity> {
    if (credential.length > MAX_TOKEN_LENGTH) throw refuse('token too large');
    try {
      if (JWT_SHAPE.test(credential)) return await this.verifyJwt(credential);
      if (this.introspecting.length > 0) return await this.verifyOpaque(credential);
      throw refuse('not a JWT');
    } catch (err) {
      if (isAirlockError(err)) throw err;
      this.options.log?.error({ err: (err as Error).message }, 'unexpected error verifying an OIDC token');
      throw refuse('token could not be verified', err);
    }
  }

  private async verifyJwt(token: string): Promise<Identity> {
    let header: ProtectedHeaderParameters;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (err) {
      throw refuse('malformed token (not a decodable JWT)', err);
    }
    if (typeof unverified.iss !== 'string' || unverified.iss === '') throw refuse('token has no issuer (iss)');
    const issuer = this.byIssuer.get(unverified.iss);
    if (!issuer) throw refuse(`wrong issuer: "${shown(unverified.iss)}" is not a trusted issuer`);
    const alg = header.alg;
    if (typeof alg !== 'string' || alg.toLowerCase() === 'none') throw refuse('unsigned token (alg "none") refused');
    if (!issuer.algorithms.includes(alg)) throw refuse(`algorithm "${shown(alg, 20)}" not allowed (allowed: ${issuer.algorithms.join(', ')})`);
    if (header.typ !== undefined && !ACCEPTED_TYP.has(String(header.typ).toLowerCase())) throw refuse(`token type "${shown(header.typ, 40)}" not accepted`);

    let jwks;
    try {
      jwks = await issuer.keys();
    } catch (err) {
      throw refuse(`cannot verify token: discovery of issuer ${issuer.issuer} failed`, err);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, jwks.getKey, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        clockTolerance: issuer.clockSkewSec,
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      throw this.jwtRefusal(err, issuer, header);
    }
    if (payload.cnf !== undefined) throw refuse('sender-constrained token (DPoP or mTLS bound) cannot be used as a password');
    return this.identity(issuer, payload, token, typeof payload.jti === 'string' ? payload.jti : undefined);
  }

  private jwtRefusal(err: unknown, issuer: TrustedIssuer, header: ProtectedHeaderParameters): AirlockError {
    if (err instanceof errors.JWTExpired) return refuse('token expired', err);
    if (err instanceof errors.JWTClaimValidationFailed) {
      switch (err.claim) {
        case 'nbf':
          return refuse('token not yet valid (nbf is in the future)', err);
        case 'iss':
          return refuse(`wrong issuer (expected ${issuer.issuer})`, err);
        case 'aud':
          return refuse(`wrong audience (expected ${issuer.audience.join(' or ')})`, err);
        case 'exp':
          return refuse(err.reason === 'missing' ? 'token has no expiry (exp)' : 'token expiry (exp) is invalid', err);
        default:
          return refuse(`token claim "${shown(err.claim, 40)}" is invalid`, err);
      }
    }
    if (err instanceof errors.JWSSignatureVerificationFailed) return refuse('bad signature (token was altered or not signed by the issuer)', err);
    if (err instanceof errors.JWKSNoMatchingKey) {
      return refuse(header.kid ? `unknown signing key (kid "${shown(header.kid, 60)}" is not published by ${issuer.issuer})` : `no signing key of ${issuer.issuer} matches the token`, err);
    }
    if (err instanceof errors.JWKSMultipleMatchingKeys) return refuse('ambiguous signing key (token has no kid and the issuer publishes several keys)', err);
    if (err instanceof errors.JOSEAlgNotAllowed) return refuse(`algorithm "${shown(header.alg, 20)}" not allowed`, err);
    if (err instanceof JwksUnavailableError) return refuse(`cannot verify token: ${err.message} for issuer ${issuer.issuer}`, err);
    if (err instanceof errors.JOSENotSupported) return refuse('token uses an unsupported algorithm or key type', err);
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return refuse(`malformed token (${err.message})`, err);
    return refuse('token could not be verified', err);
  }

  private async verifyOpaque(token: string): Promise<Identity> {
    const failures: string[] = [];
    for (const issuer of this.introspecting) {
      let answer: Record<string, unknown>;
      try {
        answer = await (await issuer.introspection()).introspect(token);
      } catch (err) {
        failures.push(`${issuer.issuer}: ${err instanceof IntrospectionError ? err.message : (err as Error).message}`);
        continue;
      }
      if (answer.active !== true) continue;
      return this.checkIntrospected(issuer, answer, token);
    }
    if (failures.length && failures.length === this.introspecting.length) throw refuse(`cannot verify token: introspection failed (${failures.join('; ')})`);
    throw refuse('token revoked or inactive (introspection says active: false)');
  }

  private checkIntrospected(issuer: TrustedIssuer, answer: Record<string, unknown>, token: string): Identity {
    if (answer.iss !== undefined && answer.iss !== issuer.issuer) throw refuse(`wrong issuer (introspection names "${shown(answer.iss)}")`);
    // The audience check applies to opaque tokens too: a token meant for another API is not Airlock's.
    const aud = typeof answer.aud === 'string' ? [answer.aud] : Array.isArray(answer.aud) ? answer.aud : [];
    if (!aud.some((a) => issuer.audience.includes(a as string))) throw refuse(`wrong audience (expected ${issuer.audience.join(' or ')})`);
    const nowSec = this.now() / 1000;
    if (typeof answer.exp === 'number' && answer.exp <= nowSec - issuer.clockSkewSec) throw refuse('token expired');
    if (typeof answer.nbf === 'number' && answer.nbf > nowSec + issuer.clockSkewSec) throw refuse('token not yet valid (nbf is in the future)');
    if (answer.cnf !== undefined) throw refuse('sender-constrained token (DPoP or mTLS bound) cannot be used as a password');
    // Client-credentials tokens have no `sub` in introspection (RFC 7662: optional); the client is the subject.
    const claims: Record<string, unknown> = { ...answer };
    delete claims.active;
    if (claims.sub === undefined && typeof claims.client_id === 'string') claims.sub = claims.client_id;
    // Never reuse the token as its id: some providers answer with jti equal to an opaque token.
    const jti = typeof claims.jti === 'string' && claims.jti !== token ? claims.jti : undefined;
    return this.identity(issuer, claims, token, jti);
  }

  private identity(issuer: TrustedIssuer, claims: Claims, token: string, jti: string | undefined): Identity {
    const cfg = issuer.config;
    const unmet = unmetRequirement(claims, cfg.requireClaims);
    if (unmet) throw refuse(unmet);
    const subject = subjectFrom(claimValue(claims, cfg.subjectClaim));
    if (!subject) throw refuse(`token has no usable subject claim "${cfg.subjectClaim}"`);
    return {
      subject,
      groups: parseGroups(claimValue(claims, cfg.groupsClaim)),
      kind: decideKind(claims, { kind: cfg.kind, serviceWhen: cfg.serviceWhen }),
      authMethod: 'oidc',
      credentialId: credentialId(jti, token),
      claims: keptClaims(claims, token),
      ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp * 1000 } : {}),
    };
  }
}

/** Three base64url parts and a decodable header naming an `alg`. */
export function looksLikeJwt(credential: string): boolean {
  if (credential.length > MAX_TOKEN_LENGTH || !JWT_SHAPE.test(credential)) return false;
  try {
    const header = JSON.parse(Buffer.from(credential.slice(0, credential.indexOf('.')), 'base64url').toString('utf8')) as unknown;
    return !!header && typeof header === 'object' && typeof (header as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

/** `jti:<jti>` when the token has a short id, else a SHA-256 prefix of the token (never the token). */
function credentialId(jti: string | undefined, token: string): string {
  if (jti && jti.length <= 128 && !/[\x00-\x1f]/.test(jti)) return `jti:${jti}`;
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 32)}`;
}
