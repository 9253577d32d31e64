/**
 * `airlock login` / `airlock logout`: people log in at the identity provider and the CLI keeps the session
 * (login-session.ts) for the commands that act as someone. Two flows, both as a public client:
 * - default: authorization code + PKCE with a loopback redirect (RFC 8252 §7.3): a one-shot HTTP server on
 *   127.0.0.1 (any free port) receives the code; the browser is opened when possible, the URL is always printed;
 * - `--device`: the device authorization grant (RFC 8628) for machines without a browser.
 * Which provider and client: `--issuer` + `--client-id`, else the gateway's `/auth/oidc/cli`.
 */
import { spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../config/load.ts';
import { parseDuration } from '../core/duration.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import {
  LoginError, authorizationUrl, exchangeCode, loginProvider, pollDeviceToken, randomText, revokeToken, startDeviceAuthorization, verifyIdToken,
  type LoginProvider, type TokenResponse,
} from '../identity/oidc/login.ts';
import { callApi } from './api-client.ts';
import { parse, str, type Io } from './args.ts';
import { chooseToken, expiryOf, readSession, removeSession, sessionPath, writeSession, type LoginSession } from './login-session.ts';

export const HELP = `airlock login [--device] [--url API] [--issuer URL --client-id ID] [--scope "openid profile …"] [--resource R]
              [--no-browser] [--timeout 5m]
  Logs you in at the identity provider: in your browser (code + PKCE, answer received on 127.0.0.1), or with
  --device by entering a code on any device. The session is kept in $XDG_CONFIG_HOME/airlock/session.json
  (default ~/.config/airlock/session.json, mode 0600) and refreshed automatically; commands that act as you use it
  when neither --token nor AIRLOCK_TOKEN is given. Without --issuer/--client-id the gateway at --url (AIRLOCK_URL,
  or the config's listen.api) names the provider, client, scopes and resource.
airlock logout
  Forgets the session and revokes its tokens at the provider (best effort).`;

const FLAGS = {
  device: { type: 'boolean' }, url: { type: 'string' }, issuer: { type: 'string' }, 'client-id': { type: 'string' }, scope: { type: 'string' },
  resource: { type: 'string' }, 'no-browser': { type: 'boolean' }, timeout: { type: 'string' }, help: { type: 'boolean' },
} as const;

interface LoginParams {
  readonly issuer: string;
  readonly clientId: string;
  readonly scopes: readonly string[];
  readonly resource?: string;
  /** The gateway's accepted audiences, when the gateway told them. */
  readonly audiences?: readonly string[];
  /** The gateway API, when known. */
  readonly url?: string;
}

function fail(err: unknown): never {
  if (err instanceof LoginError) throw new AirlockError(ErrorCodes.authFailed, err.message, { cause: err });
  throw err;
}

export async function loginCommand(argv: string[], io: Io): Promise<number> {
  const { values } = parse(argv, FLAGS);
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  let timeoutMs = 5 * 60_000;
  if (str(values.timeout)) {
    try {
      timeoutMs = parseDuration(str(values.timeout)!);
    } catch (err) {
      throw new AirlockError(ErrorCodes.usage, `--timeout: ${(err as Error).message}`);
    }
  }
  try {
    const params = await loginParams(values);
    const provider = await loginProvider(params.issuer);
    const client = { clientId: params.clientId };
    let tokens: TokenResponse;
    let nonce: string | undefined;
    if (values.device) {
      tokens = await deviceLogin(provider, params, io);
    } else {
      ({ tokens, nonce } = await loopbackLogin(provider, params, io, { timeoutMs, openBrowser: !values['no-browser'] && !process.env.AIRLOCK_NO_BROWSER }));
    }
    if (!tokens.id_token) throw new LoginError('the identity provider returned no ID token (is "openid" among the scopes?)');
    const claims = await verifyIdToken(provider, tokens.id_token, { clientId: client.clientId, nonce });
    const presented = chooseToken(tokens, { audiences: params.audiences, resource: params.resource });
    const token = presented === 'id_token' ? tokens.id_token : tokens.access_token;
    let session: LoginSession = {
      version: 1,
      issuer: params.issuer,
      client_id: params.clientId,
      url: params.url,
      resource: params.resource,
      presented,
      access_token: tokens.access_token,
      id_token: tokens.id_token,
      refresh_token: tokens.refresh_token,
      expires_at: expiryOf(token, tokens.expires_in),
      subject: String(claims.sub),
    };
    // Ask the gateway who it thinks we are: proves the token works there and gives its subject and groups.
    let gatewayProblem: string | undefined;
    if (params.url) {
      try {
        const me = await callApi<{ subject: string; groups?: string[] }>({ url: params.url, token }, 'GET', '/api/me');
        session = { ...session, subject: me.subject, groups: me.groups };
      } catch (err) {
        gatewayProblem = (err as Error).message;
      }
    }
    writeSession(session);
    const groups = session.groups ? ` (groups: ${session.groups.length ? session.groups.join(', ') : 'none'})` : '';
    io.out(`Logged in as ${session.subject}${groups} via ${params.issuer}.`);
    io.out(`Session saved in ${sessionPath()}${session.refresh_token ? '; it is refreshed automatically' : `; it expires at ${new Date(session.expires_at * 1000).toISOString()}`}.`);
    if (gatewayProblem) {
      io.err(`but the gateway at ${params.url} does not accept this login: ${gatewayProblem}`);
      if (presented === 'id_token') {
        io.err(`(the ID token's audience is the client id "${params.clientId}": list it among the issuer's audiences, or set the issuer's resource so the provider issues an access token for the gateway)`);
      }
      return 1;
    }
    return 0;
  } catch (err) {
    fail(err);
  }
}

export async function logoutCommand(argv: string[], io: Io): Promise<number> {
  parse(argv, {});
  const path = sessionPath();
  let s: LoginSession | undefined;
  try {
    s = readSession(path);
  } catch {
    // A damaged session is removed all the same.
  }
  let revoked = false;
  if (s) {
    try {
      const provider = await loginProvider(s.issuer, { timeoutMs: 5_000 });
      const client = { clientId: s.client_id };
      if (s.refresh_token) revoked = await revokeToken(provider, client, s.refresh_token, 'refresh_token');
      revoked = (await revokeToken(provider, client, s.access_token, 'access_token')) || revoked;
    } catch {
      // Best effort: the provider may be unreachable; the local session goes anyway.
    }
  }
  if (!removeSession(path)) {
    io.out('Not logged in.');
    return 0;
  }
  io.out(`Logged out${s ? ` of ${s.issuer}` : ''}${revoked ? ' (tokens revoked at the provider)' : ''}; removed ${path}.`);
  return 0;
}

async function loginParams(values: Record<string, unknown>): Promise<LoginParams> {
  const explicitScopes = str(values.scope)?.split(/[\s,]+/).filter(Boolean);
  const withDefaults = (scopes: readonly string[]) => {
    const set = new Set(scopes);
    set.add('openid');
    // A refresh token keeps the session alive without a new browser round trip.
    if (!explicitScopes) set.add('offline_access');
    return [...set];
  };
  const issuer = str(values.issuer);
  const clientId = str(values['client-id']);
  if (issuer || clientId) {
    if (!issuer || !clientId) throw new AirlockError(ErrorCodes.usage, '--issuer and --client-id go together');
    const url = str(values.url) ?? process.env.AIRLOCK_URL;
    return { issuer, clientId, scopes: withDefaults(explicitScopes ?? ['openid', 'profile', 'email']), resource: str(values.resource), url: url?.replace(/\/$/, '') };
  }
  let url = str(values.url) ?? process.env.AIRLOCK_URL;
  if (!url) url = `http://${loadConfig(str(values.config)).config.listen.api ?? '127.0.0.1:8080'}`;
  url = url.replace(/\/$/, '');
  let res: Response;
  try {
    res = await fetch(`${url}/auth/oidc/cli`, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new AirlockError(ErrorCodes.usage, `cannot reach the gateway API at ${url} to learn how to log in (${(err as Error).message}); pass --url, or --issuer and --client-id`);
  }
  // The gateway refuses routes it does not have with 403 (deny by default) or 404.
  if (res.status === 404 || res.status === 403) {
    throw new AirlockError(ErrorCodes.usage, `the gateway at ${url} has no OIDC login configured (identity.login, or an identity.oidc issuer with a clientId); or pass --issuer and --client-id`);
  }
  const body = (await res.json().catch(() => undefined)) as { issuer?: unknown; clientId?: unknown; scopes?: unknown; resource?: unknown; audience?: unknown } | undefined;
  if (!res.ok || !body || typeof body.issuer !== 'string' || typeof body.clientId !== 'string') {
    throw new AirlockError(ErrorCodes.usage, `the gateway at ${url} gave no usable login parameters (HTTP ${res.status})`);
  }
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
  return {
    issuer: body.issuer,
    clientId: body.clientId,
    scopes: withDefaults(explicitScopes ?? strings(body.scopes) ?? ['openid', 'profile', 'email']),
    resource: str(values.resource) ?? (typeof body.resource === 'string' ? body.resource : undefined),
    audiences: strings(body.audience),
    url,
  };
}

/** Opens the system browser when there is a desktop to open it on; any failure is ignored (the URL is printed). */
function tryOpenBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? undefined : 'xdg-open';
  if (!opener) return;
  // Without a display xdg-open may start a text-mode browser in this terminal: don't.
  if (opener === 'xdg-open' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
  try {
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    // not installed
  }
}

function spoken(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

function respond(res: ServerResponse, status: number, title: string, message: string): void {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · Airlock</title>
<style>body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;margin:0}main{max-width:32rem;margin:15vh auto;padding:2rem;background:#fff;border-radius:10px;box-shadow:0 1px 4px rgba(0,0,0,.12)}</style></head>
<body><main><h1>${esc(title)}</h1><p id="message">${esc(message)}</p></main></body></html>`);
}

async function loopbackLogin(
  provider: LoginProvider,
  params: LoginParams,
  io: Io,
  opts: { timeoutMs: number; openBrowser: boolean },
): Promise<{ tokens: TokenResponse; nonce: string }> {
  const state = randomText();
  const nonce = randomText();
  const codeVerifier = randomText(48);
  const client = { clientId: params.clientId };
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  try {
    const url = authorizationUrl(provider, { clientId: params.clientId, redirectUri, scopes: params.scopes, state, nonce, codeVerifier, resource: params.resource });
    io.out('Open this URL in your browser to log in:');
    io.out('');
    io.out(`  ${url}`);
    io.out('');
    io.out(`Waiting for the browser (on ${redirectUri})…`);
    if (opts.openBrowser) tryOpenBrowser(url);
    return await new Promise<{ tokens: TokenResponse; nonce: string }>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new LoginError(`no answer from the browser within ${spoken(opts.timeoutMs)}; run airlock login again`));
      }, opts.timeoutMs);
      const finish = (res: ServerResponse, status: number, title: string, message: string, outcome: () => void) => {
        settled = true;
        clearTimeout(timer);
        // Settle once the page is sent: closing the server right away could cut it off.
        let done = false;
        const go = () => {
          if (done) return;
          done = true;
          outcome();
        };
        res.once('finish', go);
        res.once('close', go);
        respond(res, status, title, message);
      };
      server.on('request', (req, res) => {
        const u = new URL(req.url ?? '/', 'http://127.0.0.1');
        if (req.method !== 'GET' || u.pathname !== '/callback') {
          res.writeHead(404).end();
          return;
        }
        if (settled) {
          respond(res, 410, 'Login already finished', 'This login has already finished; return to the terminal.');
          return;
        }
        const q = u.searchParams;
        if (q.get('state') !== state) {
          const e = new LoginError('state mismatch: the browser came back with an answer that does not belong to this login (an old browser tab, or a forged request); run airlock login again');
          finish(res, 400, 'Login failed', 'State mismatch: this answer does not belong to the login waiting in the terminal.', () => reject(e));
          return;
        }
        const error = q.get('error');
        if (error) {
          const desc = q.get('error_description');
          const e = new LoginError(`the identity provider refused the login: ${error.slice(0, 60)}${desc ? ` (${desc.slice(0, 200)})` : ''}`, error);
          finish(res, 400, 'Login failed', e.message, () => reject(e));
          return;
        }
        const code = q.get('code');
        if (!code) {
          const e = new LoginError('the identity provider answered without a code');
          finish(res, 400, 'Login failed', e.message, () => reject(e));
          return;
        }
        settled = true;
        clearTimeout(timer);
        // Exchange and check before answering, so the browser shows the real outcome.
        void (async () => {
          try {
            const tokens = await exchangeCode(provider, client, { code, redirectUri, codeVerifier, resource: params.resource });
            if (!tokens.id_token) throw new LoginError('the identity provider returned no ID token (is "openid" among the scopes?)');
            await verifyIdToken(provider, tokens.id_token, { clientId: params.clientId, nonce });
            finish(res, 200, 'Signed in to Airlock', 'You can close this tab and return to the terminal.', () => resolve({ tokens, nonce }));
          } catch (err) {
            finish(res, 400, 'Login failed', (err as Error).message, () => reject(err));
          }
        })();
      });
    });
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

async function deviceLogin(provider: LoginProvider, params: LoginParams, io: Io): Promise<TokenResponse> {
  const client = { clientId: params.clientId };
  const device = await startDeviceAuthorization(provider, client, { scopes: params.scopes, resource: params.resource });
  if (device.verificationUriComplete) {
    io.out('To log in, open this URL on any device:');
    io.out('');
    io.out(`  ${device.verificationUriComplete}`);
    io.out('');
    io.out(`and check that it shows the code ${device.userCode}`);
  } else {
    io.out(`To log in, open ${device.verificationUri} on any device and enter the code ${device.userCode}`);
  }
  io.out(`Waiting for the login to be confirmed (the code expires in ${Math.round(device.expiresIn / 60)} min)…`);
  return pollDeviceToken(provider, client, device, { resource: params.resource });
}
