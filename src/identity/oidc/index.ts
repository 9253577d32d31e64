export { OidcVerifier, looksLikeJwt, type OidcVerifierOptions } from './verifier.ts';
export { TrustedIssuer, DEFAULT_ALGORITHMS } from './issuer.ts';
export { JwksCache } from './jwks.ts';
export { Introspector } from './introspection.ts';
export { discover, discoveryUrl } from './discovery.ts';
export { isLoopbackHost, insecureUrlReason } from './url.ts';
