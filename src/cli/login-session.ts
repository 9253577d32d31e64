/**
 * The `airlock login` session: `$XDG_CONFIG_HOME/airlock/session.json` (else `~/.config/airlock/session.json`),
 * mode 0600 in a 0700 directory, written atomically. Commands that act as someone use it when neither `--token`
 * nor `AIRLOCK_TOKEN` is given; it is refreshed with the refresh token when the presented token is within 60 s
 * of expiry. Tokens are never printed.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { LoginError, loginProvider, peekJwt, refreshTokens, verifyIdToken, type TokenResponse } from '../identity/oidc/login.ts';

/** Refresh when the presented token expires within this many seconds. */
export const REFRESH_MARGIN_SEC = 60;

export interface LoginSession {
  readonly version: 1;
  readonly issuer: string;
  /** The public client the login used (refresh and revocation need it). */
  readonly client_id: string;
  /** The gateway API the login was made for (used when neither --url nor AIRLOCK_URL is given). */
  readonly url?: string;
  /** RFC 8707 resource asked for (again on refresh). */
  readonly resource?: string;
  /** Which token the gateway gets (see `chooseToken`). */
  readonly presented: 'access_token' | 'id_token';
  readonly access_token: string;
  readonly id_token?: string;
  readonly refresh_token?: string;
  /** Unix seconds when the presented token expires. */
  readonly expires_at: number;
  /** As the gateway sees it (`/api/me`), else the ID token's `sub`. */
  readonly subject: string;
  readonly groups?: readonly string[];
}

export function sessionPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'airlock', 'session.json');
}

export function readSession(path = sessionPath()): LoginSession | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AirlockError(ErrorCodes.usage, `cannot read the login session ${path}: ${(err as Error).message}`);
  }
  let s: Partial<LoginSession>;
  try {
    s = JSON.parse(text) as Partial<LoginSession>;
  } catch {
    throw new AirlockError(ErrorCodes.usage, `the login session ${path} is damaged: run \`airlock login\` (or \`airlock logout\`)`);
  }
  if (s?.version !== 1 || typeof s.issuer !== 'string' || typeof s.client_id !== 'string' || typeof s.access_token !== 'string' || typeof s.expires_at !== 'number' || (s.presented !== 'access_token' && s.presented !== 'id_token')) {
    throw new AirlockError(ErrorCodes.usage, `the login session ${path} is damaged or from another version: run \`airlock login\``);
  }
  return s as LoginSession;
}

/** Atomic write: a 0600 temp file next to it, then rename; the directory is made 0700. */
export function writeSession(session: LoginSession, path = sessionPath()): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(session, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function removeSession(path = sessionPath()): boolean {
  try {
    statSync(path);
  } catch {
    return false;
  }
  rmSync(path, { force: true });
  return true;
}

export function presentedToken(s: LoginSession): string {
  const t = s.presented === 'id_token' ? s.id_token : s.access_token;
  if (!t) throw new AirlockError(ErrorCodes.usage, 'the login session has no usable token: run `airlock login`');
  return t;
}

/**
 * Which token the gateway gets. The gateway verifies JWTs whose `aud` is one of its configured audiences:
 * - the access token, when it is a JWT issued for the gateway: its `aud` contains one of the gateway's audiences
 *   (told by the gateway), or, when those are unknown, a `resource` (RFC 8707) was asked for. This is the token
 *   meant for an API, usually with a short life and renewed by the refresh token;
 * - otherwise the ID token, whose audience is the CLI's client id (the gateway must list that client id among
 *   its audiences). Opaque access tokens are never presented: they say nothing the CLI can check.
 */
export function chooseToken(tokens: Pick<TokenResponse, 'access_token' | 'id_token'>, opts: { audiences?: readonly string[]; resource?: string }): 'access_token' | 'id_token' {
  const claims = peekJwt(tokens.access_token);
  if (claims) {
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (opts.audiences ? aud.some((a) => opts.audiences!.includes(a)) : opts.resource !== undefined) return 'access_token';
  }
  if (!tokens.id_token) throw new LoginError('the identity provider returned no ID token and no JWT access token for the gateway (is "openid" among the scopes?)');
  return 'id_token';
}

/** Expiry of the presented token: its `exp`, else now + `expires_in`, else 5 minutes. */
export function expiryOf(token: string, expiresIn: number | undefined, nowSec = Math.floor(Date.now() / 1000)): number {
  const exp = peekJwt(token)?.exp;
  if (typeof exp === 'number' && Number.isFinite(exp)) return exp;
  return nowSec + (expiresIn ?? 300);
}

function expired(why: string): AirlockError {
  return new AirlockError(ErrorCodes.authFailed, `your airlock login has expired${why ? ` (${why})` : ''}: run \`airlock login\``);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One refresh at a time across processes (refresh tokens of public clients are usually single-use). */
async function withLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(lock, 'wx', 0o600));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 30_000) rmSync(lock, { force: true });
      } catch {
        // gone meanwhile
      }
      if (i > 300) throw new AirlockError(ErrorCodes.usage, `the login session is locked by another airlock process (${lock})`);
      await sleep(50);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The session with a presented token valid for at least REFRESH_MARGIN_SEC more seconds, refreshing when needed. */
export async function freshSession(path = sessionPath(), now: () => number = Date.now): Promise<LoginSession | undefined> {
  const first = readSession(path);
  if (!first || first.expires_at - now() / 1000 > REFRESH_MARGIN_SEC) return first;
  return withLock(path, async () => {
    // Another process may have refreshed while this one waited.
    const s = readSession(path);
    if (!s) return undefined;
    if (s.expires_at - now() / 1000 > REFRESH_MARGIN_SEC) return s;
    const next = await refreshSession(s, now);
    writeSession(next, path);
    return next;
  });
}

async function refreshSession(s: LoginSession, now: () => number): Promise<LoginSession> {
  if (!s.refresh_token) throw expired('the provider gave no refresh token');
  let tokens: TokenResponse;
  let idToken = s.id_token;
  try {
    const provider = await loginProvider(s.issuer);
    tokens = await refreshTokens(provider, { clientId: s.client_id }, { refreshToken: s.refresh_token, resource: s.resource });
    if (tokens.id_token) {
      const previousSub = s.id_token ? peekJwt(s.id_token)?.sub : undefined;
      await verifyIdToken(provider, tokens.id_token, { clientId: s.client_id, subject: previousSub, now });
      idToken = tokens.id_token;
    }
  } catch (err) {
    if (err instanceof LoginError) throw expired(err.message);
    throw err;
  }
  if (s.presented === 'id_token' && !tokens.id_token) throw expired('the provider did not renew the ID token');
  if (s.presented === 'access_token' && !peekJwt(tokens.access_token)) throw expired('the refreshed access token is not a JWT');
  const presentedNow = s.presented === 'id_token' ? idToken! : tokens.access_token;
  return {
    ...s,
    access_token: tokens.access_token,
    id_token: idToken,
    refresh_token: tokens.refresh_token ?? s.refresh_token,
    expires_at: expiryOf(presentedNow, tokens.expires_in, Math.floor(now() / 1000)),
  };
}
