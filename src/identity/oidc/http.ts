/** Small JSON-over-HTTP helper for talking to identity providers: timeouts, size cap, no redirects. */

export interface FetchJsonOptions {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
}

export class HttpJsonError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HttpJsonError';
  }
}

/** Fetches a JSON object. Redirects are refused (a provider document must come from where it was configured). */
export async function fetchJson(url: string, options: FetchJsonOptions = {}): Promise<Record<string, unknown>> {
  const timeoutMs = options.timeoutMs ?? 5_000;
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  let res: Response;
  try {
    res = await fetch(url, {
      method: options.method ?? 'GET',
      headers: { accept: 'application/json', ...options.headers },
      body: options.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error;
    throw new HttpJsonError(e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `request failed (${(e.cause as Error | undefined)?.message ?? e.message})`);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new HttpJsonError(`HTTP ${res.status}`, res.status);
  }
  const text = await readCapped(res, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HttpJsonError('answer is not JSON');
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new HttpJsonError('answer is not a JSON object');
  return json as Record<string, unknown>;
}

async function readCapped(res: Response, maxBytes: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new HttpJsonError(`answer larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
