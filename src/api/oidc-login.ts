/**
 * Browser login for the web console: OpenID Connect authorization code flow with PKCE, as a confidential
 * client of the login issuer (identity/oidc/README.md, "Logging in").
 *
 * - `GET /auth/oidc/login` makes state, nonce and PKCE verifier, keeps them in a short-lived (10 min) cookie
 *   sealed with AES-256-GCM (so any gateway instance configured with the same client secret can finish the
 *   login), and redirects to the provider.
 * - `GET /auth/oidc/callback` checks the state against that cookie, exchanges the code with the verifier,
 *   validates the ID token (issuer keys, audience = client, nonce), maps its claims to an Identity exactly as
 *   OidcVerifier does, starts the web session (`startWebSession`) and redirects to the console (`/`).
 * - `GET /auth/oidc/cli` tells `airlock login` which issuer, public client, scopes and resource to use.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config, OidcIssuerConfig } from '../config/schema.ts';
import { clientMessage, isAirlockError } from '../core/errors.ts';
import { shown } from '../identity/oidc/errors.ts';
import {
  DEFAULT_LOGIN_SCOPES, LoginError, authorizationUrl, clockSkewSec, exchangeCode, identityFromClaims, loginProvider, randomText, verifyIdToken, type LoginProvider,
} from '../identity/oidc/login.ts';
import type { ApiContext } from './context.ts';
import { startWebSession } from './web-session.ts';

const LOGIN_COOKIE = 'airlock_oidc_login';
const LOGIN_TTL_MS = 10 * 60_000;
/** Pending logins kept per browser (several tabs may sign in at once). */
const MAX_PENDING = 3;
const CALLBACK_PATH = '/auth/oidc/callback';
/** What the provider sends back (RFC 6749 §4.1.2); other parameters (iss, session_state …) pass through. */
const text = (maxLength: number) => ({ type: 'string', maxLength }) as const;
const callbackQuery = {
  type: 'object',
  properties: { code: text(4096), state: text(512), error: text(256), error_description: text(2048), error_uri: text(2048), iss: text(2048) },
} as const;

export interface OidcLoginSettings {
  readonly issuer: OidcIssuerConfig;
  readonly clientId: string;
  readonly clientSecret?: string;
  readonly redirectUri?: string;
  /** The public client `airlock login` uses. */
  readonly cliClientId: string;
  readonly scopes: readonly string[];
}

/**
 * Who people log in with: `identity.login` when set (its issuer must be listed in identity.oidc), else the first
 * issuer with a clientId. Undefined when there is none: no login routes then.
 */
export function oidcLoginSettings(config: Config): OidcLoginSettings | undefined {
  const login = config.identity.login;
  const issuer = login ? config.identity.oidc.find((o) => o.issuer === login.issuer) : config.identity.oidc.find((o) => o.clientId);
  if (!issuer) return undefined;
  const clientId = login?.clientId ?? issuer.clientId;
  if (!clientId) return undefined;
  return {
    issuer,
    clientId,
    clientSecret: login?.clientId ? login.clientSecret : issuer.clientSecret,
    redirectUri: login?.redirectUri,
    cliClientId: login?.cliClientId ?? clientId,
    scopes: issuer.scopes ?? [...DEFAULT_LOGIN_SCOPES],
  };
}

interface Pending {
  /** state */ readonly s: string;
  /** nonce */ readonly n: string;
  /** PKCE verifier */ readonly v: string;
  /** redirect_uri sent */ readonly r: string;
  /** started at (ms) */ readonly t: number;
}

/** AES-256-GCM under a key derived from the client secret (or a per-process key for a public client). */
class Sealer {
  private readonly key: Buffer;
  constructor(secret: string | undefined) {
    const ikm = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
    this.key = Buffer.from(hkdfSync('sha256', ikm, 'airlock', 'oidc login state v1', 32));
  }
  seal(value: unknown): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(LOGIN_COOKIE));
    const body = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()]);
    return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64url');
  }
  open(text: string): unknown {
    try {
      const raw = Buffer.from(text, 'base64url');
      if (raw.length < 29) return undefined;
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(LOGIN_COOKIE));
      d.setAuthTag(raw.subarray(12, 28));
      return JSON.parse(Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8'));
    } catch {
      return undefined;
    }
  }
}

function cookieValue(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function isPending(p: unknown): p is Pending {
  const o = p as Record<string, unknown>;
  return !!o && typeof o === 'object' && ['s', 'n', 'v', 'r'].every((k) => typeof o[k] === 'string') && typeof o.t === 'number';
}

export function oidcLoginRoutes(ctx: ApiContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const settings = oidcLoginSettings(ctx.config);
    if (!settings) return;
    const sealer = new Sealer(settings.clientSecret);
    const client = { clientId: settings.clientId, clientSecret: settings.clientSecret };
    let provider: Promise<LoginProvider> | undefined;
    const getProvider = () =>
      (provider ??= loginProvider(settings.issuer.issuer).catch((err: unknown) => {
        provider = undefined;
        throw err;
      }));

    const pendingOf = (req: FastifyRequest): { list: Pending[]; present: boolean } => {
      const raw = cookieValue(req, LOGIN_COOKIE);
      if (!raw) return { list: [], present: false };
      const v = sealer.open(raw);
      return { list: Array.isArray(v) ? v.filter(isPending) : [], present: true };
    };
    const setPending = (req: FastifyRequest, reply: FastifyReply, list: Pending[]) => {
      const secure = req.protocol === 'https' ? '; Secure' : '';
      // SameSite=Lax: the provider's redirect back is a cross-site top-level navigation, which Strict would strip.
      const value = list.length ? sealer.seal(list) : '';
      reply.header('set-cookie', `${LOGIN_COOKIE}=${value}; HttpOnly; SameSite=Lax; Path=${CALLBACK_PATH}; Max-Age=${list.length ? LOGIN_TTL_MS / 1000 : 0}${secure}`);
    };

    app.get('/auth/oidc/login', { config: { roles: 'public' }, schema: { description: 'Starts the browser login at the OpenID provider (302).' } }, async (req, reply) => {
      let p: LoginProvider;
      try {
        p = await getProvider();
      } catch (err) {
        ctx.log.warn({ issuer: settings.issuer.issuer, err: (err as Error).message }, 'browser login: identity provider unavailable');
        return page(reply, 502, 'Sign-in is unavailable', `${(err as Error).message}.`);
      }
      const redirectUri = settings.redirectUri ?? `${req.protocol}://${req.host}${CALLBACK_PATH}`;
      const entry: Pending = { s: randomText(), n: randomText(), v: randomText(48), r: redirectUri, t: Date.now() };
      let url: string;
      try {
        url = authorizationUrl(p, { clientId: settings.clientId, redirectUri, scopes: settings.scopes, state: entry.s, nonce: entry.n, codeVerifier: entry.v });
      } catch (err) {
        return page(reply, 502, 'Sign-in is unavailable', `${(err as Error).message}.`);
      }
      const fresh = pendingOf(req).list.filter((e) => Date.now() - e.t < LOGIN_TTL_MS);
      setPending(req, reply, [...fresh.slice(-(MAX_PENDING - 1)), entry]);
      reply.header('cache-control', 'no-store');
      return reply.redirect(url, 302);
    });

    app.get(CALLBACK_PATH, { config: { roles: 'public' }, schema: { description: 'Where the OpenID provider sends the browser back; starts the web session.', querystring: callbackQuery } }, async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      const param = (k: string) => (typeof q[k] === 'string' ? (q[k] as string) : undefined);
      const fail = (status: number, reason: string) => {
        ctx.log.warn({ issuer: settings.issuer.issuer, reason }, 'browser login failed');
        return page(reply, status, 'Sign-in failed', reason);
      };
      const { list, present } = pendingOf(req);
      const state = param('state');
      const entry = state ? list.find((e) => e.s === state) : undefined;
      if (entry) setPending(req, reply, list.filter((e) => e !== entry));
      const error = param('error');
      if (error) {
        const desc = param('error_description');
        return fail(400, `The identity provider refused the sign-in: ${shown(error, 60)}${desc ? ` (${shown(desc, 200)})` : ''}.`);
      }
      const code = param('code');
      if (!code || !state) return fail(400, 'The answer from the identity provider lacks code or state.');
      if (!present) return fail(400, 'No sign-in is in progress in this browser (its sign-in cookie is missing: cookies are blocked, or the sign-in was started in another browser or more than 10 minutes ago).');
      if (!entry) return fail(400, 'State mismatch: this answer does not belong to a sign-in started in this browser.');
      if (Date.now() - entry.t > LOGIN_TTL_MS) return fail(400, 'The sign-in took longer than 10 minutes.');
      try {
        const p = await getProvider();
        const tokens = await exchangeCode(p, client, { code, redirectUri: entry.r, codeVerifier: entry.v });
        if (!tokens.id_token) throw new LoginError('the identity provider returned no ID token (is "openid" among the scopes?)');
        const claims = await verifyIdToken(p, tokens.id_token, {
          clientId: settings.clientId, nonce: entry.n, algorithms: settings.issuer.algorithms, clockSkewSec: clockSkewSec(settings.issuer),
        });
        const identity = identityFromClaims(settings.issuer, claims, tokens.id_token);
        await startWebSession(reply, req, ctx.tokens, identity);
        ctx.log.info({ subject: identity.subject, groups: identity.groups, issuer: settings.issuer.issuer }, 'browser login');
        reply.header('cache-control', 'no-store');
        return reply.redirect('/', 302);
      } catch (err) {
        if (err instanceof LoginError) return fail(err.oauthError ? 502 : 401, `${capitalize(err.message)}.`);
        if (isAirlockError(err)) return fail(400, `${capitalize(clientMessage(err))}.`);
        ctx.log.error({ err: (err as Error).message }, 'browser login: unexpected error');
        return fail(500, 'Internal error.');
      }
    });

    app.get('/auth/oidc/cli', { config: { roles: 'public' }, schema: { description: 'Login parameters for `airlock login` (issuer, public client, scopes, resource).' } }, async () => ({
      issuer: settings.issuer.issuer,
      clientId: settings.cliClientId,
      scopes: settings.scopes,
      resource: settings.issuer.resource,
      audience: typeof settings.issuer.audience === 'string' ? [settings.issuer.audience] : settings.issuer.audience,
    }));
  };
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/\.$/, '');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2430}
main{max-width:34rem;margin:12vh auto;padding:2rem 2.5rem;background:#fff;border-radius:10px;box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{margin:0 0 1rem;font-size:1.6rem}p{margin:.6rem 0}.muted{color:#667085;font-size:.9rem}
a.button{display:inline-block;padding:.55rem 1.2rem;background:#2456d6;color:#fff;border-radius:6px;text-decoration:none;font-weight:600}
a.button:hover{background:#1b44ab}`;

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64');
const PAGE_CSP = `default-src 'none'; style-src 'sha256-${sha256(STYLE)}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;

function page(reply: FastifyReply, status: number, title: string, message: string) {
  reply.header('content-security-policy', PAGE_CSP);
  reply.header('cache-control', 'no-store');
  return reply
    .status(status)
    .type('text/html; charset=utf-8')
    .send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Airlock</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1><p id="error">${escapeHtml(message)}</p><p><a class="button" href="/auth/oidc/login">Try again</a></p></main></body></html>`);
}
