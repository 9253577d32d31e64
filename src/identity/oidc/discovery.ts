import { fetchJson, type FetchJsonOptions } from './http.ts';
import { insecureUrlReason } from './url.ts';

/** The parts of OpenID Connect Discovery / RFC 8414 metadata Airlock uses. */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly introspectionEndpoint?: string;
  /** For people's logins (code + PKCE, device flow, refresh, logout); each is https (or loopback) when present. */
  readonly authorizationEndpoint?: string;
  readonly tokenEndpoint?: string;
  readonly deviceAuthorizationEndpoint?: string;
  readonly endSessionEndpoint?: string;
  readonly revocationEndpoint?: string;
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
  // Login endpoints are optional here: one that is missing or not https (or loopback) is left out rather than
  // failing token verification, and the login code names what is missing when it needs it.
  const endpoint = (key: string): string | undefined => {
    const v = doc[key];
    return typeof v === 'string' && !insecureUrlReason(v) ? v : undefined;
  };
  return {
    issuer,
    jwksUri,
    introspectionEndpoint,
    authorizationEndpoint: endpoint('authorization_endpoint'),
    tokenEndpoint: endpoint('token_endpoint'),
    deviceAuthorizationEndpoint: endpoint('device_authorization_endpoint'),
    endSessionEndpoint: endpoint('end_session_endpoint'),
    revocationEndpoint: endpoint('revocation_endpoint'),
  };
}
