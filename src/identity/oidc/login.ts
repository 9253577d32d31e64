/**
 * The relying-party side of people's logins, shared by the gateway's browser login (api/oidc-login.ts) and
 * `airlock login` (cli/login.ts): PKCE, the authorization URL, the token endpoint (code, refresh, device code),
 * device authorization (RFC 8628), revocation (RFC 7009) and ID token validation. Errors are `LoginError`s whose
 * messages name what went wrong and never contain a token, a code or a verifier.
 */
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { OidcIssuerConfig } from '../../config/schema.ts';
import { parseDuration } from '../../core/duration.ts';
import type { Identity } from '../../core/identity.ts';
import { claimValue, decideKind, keptClaims, parseGroups, subjectFrom, unmetRequirement, type Claims } from './claims.ts';
import { discover, type ProviderMetadata } from './discovery.ts';
import { shown } from './errors.ts';
import { DEFAULT_ALGORITHMS } from './issuer.ts';
import { JwksCache } from './jwks.ts';

/** Scopes asked for when the issuer's config lists none. */
export const DEFAULT_LOGIN_SCOPES = ['openid', 'profile', 'email'] as const;
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const MAX_ANSWER_BYTES = 256 * 1024;

export class LoginError extends Error {
  override readonly name = 'LoginError';
  constructor(
    message: string,
    /** The provider's OAuth error code (`invalid_grant`, `access_denied` …) when it sent one. */
    readonly oauthError?: string,
  ) {
    super(message);
  }
}

/** Random URL-safe text (state, nonce, PKCE verifier): 32 bytes → 43 characters. */
export function randomText(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** RFC 7636 S256: challenge = BASE64URL(SHA256(verifier)). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

/** The provider as a login needs it: metadata (token endpoint required) and its signing keys. */
export interface LoginProvider {
  readonly issuer: string;
  readonly metadata: ProviderMetadata;
  readonly jwks: JwksCache;
  readonly tokenEndpoint: string;
}

export async function loginProvider(issuer: string, options: { timeoutMs?: number } = {}): Promise<LoginProvider> {
  let metadata: ProviderMetadata;
  try {
    metadata = await discover(issuer, { timeoutMs: options.timeoutMs });
  } catch (err) {
    throw new LoginError(`cannot reach the identity provider: ${(err as Error).message}`);
  }
  if (!metadata.tokenEndpoint) throw new LoginError(`the identity provider ${issuer} publishes no (https) token_endpoint`);
  return { issuer, metadata, jwks: new JwksCache(metadata.jwksUri, { timeoutMs: options.timeoutMs }), tokenEndpoint: metadata.tokenEndpoint };
}

export interface AuthorizationRequest {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  readonly resource?: string;
  readonly loginHint?: string;
}

/**
 * The authorization endpoint URL (code flow, PKCE S256). `offline_access` asks for a refresh token, and OpenID
 * Connect Core §11 wants `prompt=consent` with it.
 */
export function authorizationUrl(provider: LoginProvider, req: AuthorizationRequest): string {
  const endpoint = provider.metadata.authorizationEndpoint;
  if (!endpoint) throw new LoginError(`the identity provider ${provider.issuer} publishes no (https) authorization_endpoint`);
  const url = new URL(endpoint);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', req.clientId);
  q.set('redirect_uri', req.redirectUri);
  q.set('scope', req.scopes.join(' '));
  q.set('state', req.state);
  q.set('nonce', req.nonce);
  q.set('code_challenge', pkceChallenge(req.codeVerifier));
  q.set('code_challenge_method', 'S256');
  if (req.scopes.includes('offline_access')) q.set('prompt', 'consent');
  if (req.resource) q.set('resource', req.resource);
  if (req.loginHint) q.set('login_hint', req.loginHint);
  return url.href;
}

export interface OAuthClient {
  readonly clientId: string;
  /** Confidential clients authenticate with HTTP Basic (RFC 6749 §2.3.1); public ones send client_id. */
  readonly clientSecret?: string;
}

export interface TokenResponse {
  readonly access_token: string;
  readonly token_type?: string;
  readonly expires_in?: number;
  readonly id_token?: string;
  readonly refresh_token?: string;
  readonly scope?: string;
}

interface FormAnswer {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

/** POSTs a form and reads a JSON answer of any status (OAuth errors come as 400 JSON). No redirects, 10 s, 256 KiB. */
async function postForm(url: string, client: OAuthClient, params: Record<string, string | undefined>, what: string, timeoutMs = 10_000): Promise<FormAnswer> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) body.set(k, v);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (client.clientSecret !== undefined) {
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret)}`).toString('base64')}`;
  } else {
    body.set('client_id', client.clientId);
  }
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error;
    throw new LoginError(`${what}: ${e.name === 'TimeoutError' ? `no answer from the identity provider within ${timeoutMs} ms` : `cannot reach the identity provider (${(e.cause as Error | undefined)?.message ?? e.message})`}`);
  }
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > MAX_ANSWER_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw new LoginError(`${what}: answer larger than ${MAX_ANSWER_BYTES} bytes`);
  }
  const text = await res.text();
  if (text.length > MAX_ANSWER_BYTES) throw new LoginError(`${what}: answer larger than ${MAX_ANSWER_BYTES} bytes`);
  let json: unknown = {};
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      if (res.ok) throw new LoginError(`${what}: the identity provider answered HTTP ${res.status} with something that is not JSON`);
    }
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) json = {};
  return { status: res.status, json: json as Record<string, unknown> };
}

/** `error` + `error_description` of an OAuth error answer, made safe to show. */
function oauthFailure(what: string, answer: FormAnswer): LoginError {
  const code = typeof answer.json.error === 'string' ? shown(answer.json.error, 60) : undefined;
  const desc = typeof answer.json.error_description === 'string' ? ` (${shown(answer.json.error_description, 200)})` : '';
  return new LoginError(`${what}: the identity provider refused: ${code ?? `HTTP ${answer.status}`}${desc}`, code);
}

function tokenResponse(what: string, answer: FormAnswer): TokenResponse {
  if (answer.status !== 200 || answer.json.error !== undefined) throw oauthFailure(what, answer);
  const j = answer.json;
  if (typeof j.access_token !== 'string' || j.access_token === '') throw new LoginError(`${what}: the identity provider's answer has no access_token`);
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  return {
    access_token: j.access_token,
    token_type: str(j.token_type),
    expires_in: typeof j.expires_in === 'number' && Number.isFinite(j.expires_in) ? j.expires_in : undefined,
    id_token: str(j.id_token),
    refresh_token: str(j.refresh_token),
    scope: str(j.scope),
  };
}

/** Authorization code → tokens, proving possession of the PKCE verifier. */
export async function exchangeCode(provider: LoginProvider, client: OAuthClient, p: { code: string; redirectUri: string; codeVerifier: string; resource?: string }): Promise<TokenResponse> {
  const answer = await postForm(provider.tokenEndpoint, client, {
    grant_type: 'authorization_code',
    code: p.code,
    redirect_uri: p.redirectUri,
    code_verifier: p.codeVerifier,
    resource: p.resource,
  }, 'code exchange failed');
  return tokenResponse('code exchange failed', answer);
}

export async function refreshTokens(provider: LoginProvider, client: OAuthClient, p: { refreshToken: string; resource?: string }): Promise<TokenResponse> {
  const answer = await postForm(provider.tokenEndpoint, client, { grant_type: 'refresh_token', refresh_token: p.refreshToken, resource: p.resource }, 'refresh failed');
  return tokenResponse('refresh failed', answer);
}

export interface DeviceAuthorization {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete?: string;
  /** Seconds. */
  readonly expiresIn: number;
  /** Seconds between polls (RFC 8628 §3.2: 5 when the provider names none). */
  readonly interval: number;
}

/** RFC 8628 §3.1–3.2. */
export async function startDeviceAuthorization(provider: LoginProvider, client: OAuthClient, p: { scopes: readonly string[]; resource?: string }): Promise<DeviceAuthorization> {
  const endpoint = provider.metadata.deviceAuthorizationEndpoint;
  if (!endpoint) throw new LoginError(`the identity provider ${provider.issuer} publishes no (https) device_authorization_endpoint: it does not support the device flow`);
  const answer = await postForm(endpoint, client, { scope: p.scopes.join(' '), resource: p.resource }, 'device authorization failed');
  if (answer.status !== 200 || answer.json.error !== undefined) throw oauthFailure('device authorization failed', answer);
  const j = answer.json;
  if (typeof j.device_code !== 'string' || typeof j.user_code !== 'string' || typeof j.verification_uri !== 'string') {
    throw new LoginError('device authorization failed: the answer lacks device_code, user_code or verification_uri');
  }
  return {
    deviceCode: j.device_code,
    userCode: j.user_code,
    verificationUri: j.verification_uri,
    verificationUriComplete: typeof j.verification_uri_complete === 'string' ? j.verification_uri_complete : undefined,
    expiresIn: typeof j.expires_in === 'number' && j.expires_in > 0 ? j.expires_in : 600,
    interval: typeof j.interval === 'number' && j.interval > 0 ? j.interval : 5,
  };
}

export interface PollOptions {
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
  readonly resource?: string;
}

/**
 * RFC 8628 §3.4–3.5: polls the token endpoint every `interval` seconds; `authorization_pending` keeps waiting,
 * `slow_down` adds 5 s to the interval, `access_denied` and `expired_token` (or the code's own expiry) end it.
 */
export async function pollDeviceToken(provider: LoginProvider, client: OAuthClient, device: DeviceAuthorization, options: PollOptions = {}): Promise<TokenResponse> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  const deadline = now() + device.expiresIn * 1000;
  let intervalMs = device.interval * 1000;
  for (;;) {
    await sleep(intervalMs);
    if (options.signal?.aborted) throw new LoginError('device login cancelled');
    const answer = await postForm(provider.tokenEndpoint, client, { grant_type: DEVICE_GRANT, device_code: device.deviceCode, resource: options.resource }, 'device login failed');
    const error = answer.status === 200 ? undefined : answer.json.error;
    if (answer.status === 200 && answer.json.error === undefined) return tokenResponse('device login failed', answer);
    if (error === 'authorization_pending') {
      // keep polling
    } else if (error === 'slow_down') {
      intervalMs += 5_000;
    } else if (error === 'expired_token') {
      throw new LoginError('device login failed: the code expired before the login was confirmed; run the command again', 'expired_token');
    } else if (error === 'access_denied') {
      throw new LoginError('device login failed: the login was denied or aborted in the browser', 'access_denied');
    } else {
      throw oauthFailure('device login failed', answer);
    }
    if (now() + intervalMs > deadline) throw new LoginError(`device login failed: nobody confirmed the code within ${device.expiresIn} s`, 'expired_token');
  }
}

/** RFC 7009, best effort: false when the provider has no revocation endpoint or refused. */
export async function revokeToken(provider: LoginProvider, client: OAuthClient, token: string, hint: 'refresh_token' | 'access_token'): Promise<boolean> {
  const endpoint = provider.metadata.revocationEndpoint;
  if (!endpoint) return false;
  try {
    const answer = await postForm(endpoint, client, { token, token_type_hint: hint }, 'revocation failed', 5_000);
    return answer.status === 200;
  } catch {
    return false;
  }
}

export interface IdTokenCheck {
  readonly clientId: string;
  /** Required equal when given (code flow); refreshed and device-flow ID tokens carry none. */
  readonly nonce?: string;
  readonly algorithms?: readonly string[];
  readonly clockSkewSec?: number;
  /** A refreshed ID token must be about the same person (OpenID Connect Core §12.2). */
  readonly subject?: string;
  readonly now?: () => number;
}

/**
 * Validates an ID token (OpenID Connect Core §3.1.3.7) with the issuer's keys: signature with an allowed
 * asymmetric algorithm, `iss`, `aud` contains the client (and `azp` names it when there are several), `exp`,
 * `iat`, `sub`, and the `nonce` of this login.
 */
export async function verifyIdToken(provider: LoginProvider, idToken: string, check: IdTokenCheck): Promise<JWTPayload> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(idToken, provider.jwks.getKey, {
      issuer: provider.issuer,
      audience: check.clientId,
      algorithms: [...(check.algorithms ?? DEFAULT_ALGORITHMS)],
      clockTolerance: check.clockSkewSec ?? 30,
      requiredClaims: ['exp', 'iat', 'sub'],
      currentDate: check.now ? new Date(check.now()) : undefined,
    }));
  } catch (err) {
    throw new LoginError(`the ID token is not valid: ${idTokenProblem(err, provider.issuer, check.clientId)}`);
  }
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== check.clientId) {
    throw new LoginError('the ID token is not valid: it names several audiences and azp is not this client');
  }
  if (check.nonce !== undefined && payload.nonce !== check.nonce) {
    throw new LoginError('the ID token is not valid: nonce mismatch (the token was not issued for this login; try again)');
  }
  if (check.subject !== undefined && payload.sub !== check.subject) {
    throw new LoginError('the refreshed ID token is about a different subject');
  }
  return payload;
}

function idTokenProblem(err: unknown, issuer: string, clientId: string): string {
  if (err instanceof errors.JWTExpired) return 'expired (check the clocks)';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss') return `wrong issuer (expected ${issuer})`;
    if (err.claim === 'aud') return `wrong audience (expected ${clientId})`;
    if (err.claim === 'nbf' || err.claim === 'iat') return `${err.claim} is in the future (check the clocks)`;
    return `claim "${shown(err.claim, 40)}" is invalid (${err.reason})`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof errors.JWKSNoMatchingKey) return `signed with a key the issuer does not publish`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'signed with an algorithm that is not allowed';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return `malformed (${err.message})`;
  return (err as Error).message;
}

/** Claims of a JWT without verifying it (for choosing which token to present); undefined when not a JWT. */
export function peekJwt(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

/**
 * The Identity for verified claims, by the same rules as OidcVerifier: `requireClaims`, `subjectClaim`,
 * `groupsClaim`, `kind`/`serviceWhen`, kept claims. `credential` is only used to keep it out of the claims.
 */
export function identityFromClaims(cfg: OidcIssuerConfig, claims: Claims, credential: string): Identity {
  const unmet = unmetRequirement(claims, cfg.requireClaims);
  if (unmet) throw new LoginError(unmet);
  const subject = subjectFrom(claimValue(claims, cfg.subjectClaim));
  if (!subject) throw new LoginError(`the ID token has no usable subject claim "${cfg.subjectClaim}"`);
  return {
    subject,
    groups: parseGroups(claimValue(claims, cfg.groupsClaim)),
    kind: decideKind(claims, { kind: cfg.kind, serviceWhen: cfg.serviceWhen }),
    authMethod: 'oidc',
    credentialId: typeof claims.jti === 'string' && claims.jti.length <= 128 ? `jti:${claims.jti}` : `sha256:${createHash('sha256').update(credential).digest('hex').slice(0, 32)}`,
    claims: keptClaims(claims, credential),
  };
}

/** Clock skew of an issuer in seconds (as OidcVerifier reads it). */
export function clockSkewSec(cfg: OidcIssuerConfig): number {
  return Math.round((cfg.clockSkew ? parseDuration(cfg.clockSkew) : 30_000) / 1000);
}
