import { z } from 'zod';
import { isLoopbackHost } from '../core/loopback.ts';

/**
 * An identity-provider or callback URL: `https://`, or `http://` on loopback only (development and tests);
 * never credentials or a fragment; a query only where `query` is true (some IdPs put their id there).
 */
export function webUrl(what: string, query = false) {
  return z.string().superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${what} must be a URL` });
      return;
    }
    if (!(u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname)))) {
      ctx.addIssue({ code: 'custom', message: `${what} ${v} must use https:// (http:// is allowed only on loopback: 127.0.0.1, localhost, ::1)` });
    }
    if (u.username || u.password || u.hash || (!query && u.search)) {
      ctx.addIssue({ code: 'custom', message: `${what} must not contain credentials${query ? '' : ', a query'} or a fragment` });
    }
  });
}
