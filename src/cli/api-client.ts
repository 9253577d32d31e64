import { loadConfig } from '../config/load.ts';
import { AirlockError, ErrorCodes, type ErrorCode } from '../core/errors.ts';

const STATUS_CODES: Record<number, ErrorCode> = { 400: ErrorCodes.usage, 401: ErrorCodes.authFailed, 403: ErrorCodes.forbidden, 404: ErrorCodes.notFound };
import { announceSetup } from './local.ts';
import { freshSession, presentedToken } from './login-session.ts';

export interface ApiTarget {
  readonly url: string;
  readonly token: string;
  /** A currently valid token (the `airlock login` session refreshes itself); else `token` is used. */
  readonly credential?: () => Promise<string>;
}

/**
 * Where the API is (`--url`, AIRLOCK_URL, the login session's gateway, or the config's listen.api) and who is
 * calling (`--token`, AIRLOCK_TOKEN, or the `airlock login` session, refreshed when about to expire).
 */
export async function apiTarget(values: Record<string, unknown>): Promise<ApiTarget> {
  let token = (values.token as string | undefined) ?? process.env.AIRLOCK_TOKEN;
  let url = (values.url as string | undefined) ?? process.env.AIRLOCK_URL;
  let credential: (() => Promise<string>) | undefined;
  if (!token) {
    const session = await freshSession();
    if (!session) throw new AirlockError(ErrorCodes.usage, 'this command acts as you: run `airlock login`, pass --token or set AIRLOCK_TOKEN');
    token = presentedToken(session);
    url ??= session.url;
    credential = async () => {
      const s = await freshSession();
      if (!s) throw new AirlockError(ErrorCodes.authFailed, 'you are logged out: run `airlock login`');
      return presentedToken(s);
    };
  }
  if (!url) {
    const loaded = loadConfig(values.config as string | undefined);
    announceSetup(loaded, 'config');
    const listen = loaded.config.listen.api ?? '127.0.0.1:8080';
    url = `http://${listen}`;
  }
  return { url: url.replace(/\/$/, ''), token, credential };
}

export async function callApi<T>(t: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  const token = t.credential ? await t.credential() : t.token;
  let res: Response;
  try {
    res = await fetch(`${t.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AirlockError(ErrorCodes.target, `cannot reach the gateway API at ${t.url}: ${(err as Error).message}`);
  }
  const json = (await res.json().catch(() => ({}))) as { message?: string };
  // The API's answer decides the exit status: refused credentials and roles (3), not found (4), bad request (2).
  if (!res.ok) throw new AirlockError(STATUS_CODES[res.status] ?? ErrorCodes.target, `${res.status}: ${json.message ?? res.statusText}`);
  return json as T;
}
