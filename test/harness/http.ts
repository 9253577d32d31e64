/** One HTTP call to the gateway's API as the tests make it: bearer token, JSON body, the answer parsed when it is JSON. */
export interface ApiAnswer {
  readonly status: number;
  /** The body parsed as JSON, or undefined when it is not JSON (or is an event stream). */
  readonly json: any;
  readonly text: string;
  readonly headers: Headers;
}

export interface ApiRequest {
  readonly method?: string;
  readonly bearer?: string;
  readonly headers?: Record<string, string>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as is, with a JSON content type (for malformed bodies). */
  readonly raw?: string;
}

export async function apiCall(url: string, req: ApiRequest = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...req.headers };
  if (req.bearer !== undefined) headers.authorization = `Bearer ${req.bearer}`;
  if (req.body !== undefined || req.raw !== undefined) headers['content-type'] = 'application/json';
  const abort = new AbortController();
  const res = await fetch(url, { method: req.method ?? 'GET', headers, body: req.raw ?? (req.body === undefined ? undefined : JSON.stringify(req.body)), signal: abort.signal });
  // Event streams stay open: the status and headers are all a caller gets here.
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    abort.abort();
    return { status: res.status, json: undefined, text: '', headers: res.headers };
  }
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
