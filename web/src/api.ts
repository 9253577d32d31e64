/** The console talks only to the gateway's HTTP API, with the HttpOnly session cookie (same origin). */

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json ?? {}) as { error?: string; message?: string };
    if (res.status === 401) signedOut.dispatchEvent(new Event('signed-out'));
    throw new ApiError(res.status, e.error ?? `HTTP_${res.status}`, e.message ?? `${res.status} ${res.statusText}`);
  }
  return json as T;
}

/** Fires when any call finds the session gone (expired or revoked), so the shell can show the login page. */
export const signedOut = new EventTarget();

export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Server-Sent Events with the named event types the API sends; EventSource reconnects by itself and
 * resumes with Last-Event-ID. Returns a function that closes the stream.
 */
export function subscribe(path: string, handlers: Record<string, (data: unknown, id: string) => void>, onState?: (open: boolean) => void): () => void {
  const source = new EventSource(path, { withCredentials: true });
  for (const [name, fn] of Object.entries(handlers)) {
    source.addEventListener(name, (e) => {
      const m = e as MessageEvent<string>;
      try {
        fn(JSON.parse(m.data), m.lastEventId);
      } catch {
        // a malformed message is skipped; the next one still counts
      }
    });
  }
  source.onopen = () => onState?.(true);
  source.onerror = () => onState?.(false);
  return () => source.close();
}
