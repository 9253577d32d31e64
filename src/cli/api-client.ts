import { loadConfig } from '../config/load.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';

export interface ApiTarget {
  readonly url: string;
  readonly token: string;
}

/** Where the API is (`--url`, AIRLOCK_URL, or the config's listen.api) and who is calling (`--token`, AIRLOCK_TOKEN). */
export function apiTarget(values: Record<string, unknown>): ApiTarget {
  const token = (values.token as string | undefined) ?? process.env.AIRLOCK_TOKEN;
  if (!token) throw new AirlockError(ErrorCodes.usage, 'this command acts as you: pass --token or set AIRLOCK_TOKEN');
  let url = (values.url as string | undefined) ?? process.env.AIRLOCK_URL;
  if (!url) {
    const listen = loadConfig(values.config as string | undefined).config.listen.api ?? '127.0.0.1:8080';
    url = `http://${listen}`;
  }
  return { url: url.replace(/\/$/, ''), token };
}

export async function callApi<T>(t: ApiTarget, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${t.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new AirlockError(ErrorCodes.usage, `cannot reach the gateway API at ${t.url}: ${(err as Error).message}`);
  }
  const json = (await res.json().catch(() => ({}))) as { message?: string };
  if (!res.ok) throw new AirlockError(ErrorCodes.usage, `${res.status}: ${json.message ?? res.statusText}`);
  return json as T;
}
