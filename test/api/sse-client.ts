/** A minimal Server-Sent Events reader over fetch, for tests: collects messages and waits for the ones wanted. */
export interface SseMessage {
  readonly event: string;
  readonly id?: string;
  readonly data: string;
  /** performance.now() when the message was parsed. */
  readonly at: number;
}

export interface SseReader {
  readonly status: number;
  readonly headers: Headers;
  readonly messages: SseMessage[];
  /** Resolves with the first message (from the start) matching, or rejects after timeoutMs. */
  waitFor(match: (m: SseMessage) => boolean, timeoutMs?: number): Promise<SseMessage>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string>): Promise<SseReader> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((w) => w());
  let done = false;
  const ended = (async () => {
    if (!res.body || !res.headers.get('content-type')?.startsWith('text/event-stream')) {
      await res.arrayBuffer().catch(() => {});
      return;
    }
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const fields: Record<string, string> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const i = line.indexOf(': ');
            if (i > 0) fields[line.slice(0, i)] = (fields[line.slice(0, i)] ? `${fields[line.slice(0, i)]}\n` : '') + line.slice(i + 2);
          }
          if (fields.data !== undefined) messages.push({ event: fields.event ?? 'message', id: fields.id, data: fields.data, at: performance.now() });
        }
        notify();
      }
    } catch {
      // aborted by close()
    } finally {
      done = true;
      notify();
    }
  })();
  return {
    status: res.status,
    headers: res.headers,
    messages,
    ended,
    close: () => abort.abort(),
    waitFor(match, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = messages.find(match);
          if (m) return finish(() => resolve(m));
          if (done) finish(() => reject(new Error(`stream ended without the message; got: ${messages.map((x) => x.event).join(', ')}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no such message within ${timeoutMs} ms; got ${messages.length}: ${messages.map((x) => `${x.event}:${x.data.slice(0, 80)}`).join(' | ')}`))), timeoutMs);
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
  };
}
