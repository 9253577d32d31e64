/**
 * URL rules for everything Airlock fetches from an identity provider (discovery, JWKS, introspection):
 * `https://` only, except on the loopback interface where `http://` is allowed for local providers and tests.
 * The same rule is enforced on `issuer` when the configuration loads (config/schema.ts).
 */

import { isLoopbackHost } from '../../core/loopback.ts';

export { isLoopbackHost };

/** Why `url` may not be used to reach an identity provider, or undefined when it may. */
export function insecureUrlReason(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `"${url}" is not a URL`;
  }
  if (u.username || u.password) return `${u.origin} must not carry credentials in the URL`;
  if (u.protocol === 'https:') return undefined;
  if (u.protocol === 'http:' && isLoopbackHost(u.hostname)) return undefined;
  if (u.protocol === 'http:') return `${u.href} must use https:// (http:// is allowed only on loopback: 127.0.0.1, localhost, ::1)`;
  return `${u.href} must use https://`;
}
