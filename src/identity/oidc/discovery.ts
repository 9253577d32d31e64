import { fetchJson, type FetchJsonOptions } from './http.ts';
import { insecureUrlReason } from './url.ts';

/** The parts of OpenID Connect Discovery / RFC 8414 metadata Airlock uses. */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly introspectionEndpoint?: string;
}

export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
}

/** `/.well-known/openid-configuration` under the issuer (OpenID Connect Discovery 1.0 §4). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** RFC 8414 §3: the well-known segment goes between the host and the issuer's path. */
export function oauthMetadataUrl(issuer: string): string {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.origin}/.well-known/oauth-authorization-server${path}`;
}

/**
 * Fetches the provider's metadata: OpenID discovery first, RFC 8414 as a fallback. The document's
 * `issuer` must equal the configured one exactly, and every endpoint used must be https (or loopback).
 */
export async function discover(issuer: string, options: Pick<FetchJsonOptions, 'timeoutMs'> = {}): Promise<ProviderMetadata> {
  let doc: Record<string, unknown> | undefined;
  const failures: string[] = [];
  for (const url of [discoveryUrl(issuer), oauthMetadataUrl(issuer)]) {
    try {
      doc = await fetchJson(url, { timeoutMs: options.timeoutMs });
      break;
    } catch (err) {
      failures.push(`${url}: ${(err as Error).message}`);
    }
  }
  if (!doc) throw new DiscoveryError(`discovery failed for ${issuer} (${failures.join('; ')})`);
  if (doc.issuer !== issuer) {
    throw new DiscoveryError(`discovery document of ${issuer} names a different issuer (${String(doc.issuer).slice(0, 200)}); the configured issuer must match it exactly`);
  }
  const jwksUri = doc.jwks_uri;
  if (typeof jwksUri !== 'string') throw new DiscoveryError(`discovery document of ${issuer} has no jwks_uri`);
  const bad = insecureUrlReason(jwksUri);
  if (bad) throw new DiscoveryError(`jwks_uri of ${issuer}: ${bad}`);
  let introspectionEndpoint: string | undefined;
  if (typeof doc.introspection_endpoint === 'string') {
    const badIntro = insecureUrlReason(doc.introspection_endpoint);
    if (badIntro) throw new DiscoveryError(`introspection_endpoint of ${issuer}: ${badIntro}`);
    introspectionEndpoint = doc.introspection_endpoint;
  }
  return { issuer, jwksUri, introspectionEndpoint };
}
