/** Pure helpers: reading claims, groups, glob matching, requireClaims/serviceWhen rules, service vs user. */

export type Claims = Readonly<Record<string, unknown>>;
export type ClaimRules = Readonly<Record<string, string | readonly string[]>>;

/**
 * A claim by name. Names are tried as-is first (namespaced claims like `https://example.com/groups`
 * contain dots), then as a dotted path into nested objects (`realm_access.roles`).
 */
export function claimValue(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  if (!name.includes('.')) return undefined;
  let cur: unknown = claims;
  for (const part of name.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Groups from an array of strings or a space/comma separated string; anything else gives none. */
export function parseGroups(value: unknown): string[] {
  let raw: unknown[] = [];
  if (Array.isArray(value)) raw = value;
  else if (typeof value === 'string') raw = value.split(/[\s,]+/);
  const out = new Set<string>();
  for (const g of raw) {
    if (typeof g === 'string' && g.trim() && g.length <= 256) out.add(g.trim());
  }
  return [...out];
}

const globCache = new Map<string, RegExp>();

/** `*` matches any run of characters (including `/`); everything else is literal; the whole value must match. */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`);
    if (globCache.size > 1000) globCache.clear();
    globCache.set(pattern, re);
  }
  return re.test(value);
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** Does the claim value (scalar, or any element of an array) match any of the patterns? */
export function claimMatches(value: unknown, expected: string | readonly string[]): boolean {
  const patterns = typeof expected === 'string' ? [expected] : expected;
  const values = Array.isArray(value) ? value : [value];
  return values.some((v) => {
    const text = scalarText(v);
    return text !== undefined && patterns.some((p) => globMatch(p, text));
  });
}

/** The first rule the claims break, as a client-safe sentence, or undefined when all hold. */
export function unmetRequirement(claims: Claims, rules: ClaimRules | undefined): string | undefined {
  for (const [name, expected] of Object.entries(rules ?? {})) {
    const v = claimValue(claims, name);
    if (v === undefined || v === null) return `token lacks required claim "${name}"`;
    if (!claimMatches(v, expected)) {
      const want = typeof expected === 'string' ? expected : expected.join(' | ');
      return `token claim "${name}" does not match the required value (${want})`;
    }
  }
  return undefined;
}

export function allClaimsMatch(claims: Claims, rules: ClaimRules | undefined): boolean {
  const entries = Object.entries(rules ?? {});
  return entries.length > 0 && entries.every(([name, expected]) => claimMatches(claimValue(claims, name), expected));
}

/** Claims that only a person's token carries. */
const USER_CLAIMS = ['email', 'preferred_username', 'upn'];

/**
 * `service` or `user`:
 * 1. `serviceWhen` rules all match → service;
 * 2. the issuer's `kind` when fixed (`user` | `service`);
 * 3. otherwise inferred: client-credentials shapes (sub equals client_id/azp/cid, Entra `idtyp: app`,
 *    Auth0 `gty: client-credentials`) or no person claim at all (email, preferred_username, upn) → service.
 */
export function decideKind(claims: Claims, rules: { kind?: 'auto' | 'user' | 'service'; serviceWhen?: ClaimRules }): 'user' | 'service' {
  if (allClaimsMatch(claims, rules.serviceWhen)) return 'service';
  if (rules.kind === 'user' || rules.kind === 'service') return rules.kind;
  const sub = claims.sub;
  if (typeof sub === 'string' && sub !== '' && [claims.client_id, claims.azp, claims.cid].includes(sub)) return 'service';
  if (claims.idtyp === 'app' || claims.gty === 'client-credentials') return 'service';
  if (!USER_CLAIMS.some((c) => typeof claims[c] === 'string' && claims[c] !== '')) return 'service';
  return 'user';
}

/** Subject from the configured claim: a non-empty string (or number), without control characters. */
export function subjectFrom(value: unknown): string | undefined {
  const s = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof s !== 'string' || s === '' || s.length > 256 || /[\x00-\x1f\x7f]/.test(s)) return undefined;
  return s;
}

/**
 * Verified claims worth keeping on the identity: small values only (each at most 512 bytes of JSON, at most
 * 50 claims), never a value equal to the credential itself (some providers echo an opaque token as `jti`).
 */
export function keptClaims(claims: Claims, credential: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(claims)) {
    if (n >= 50) break;
    if (v === undefined || v === credential || k.length > 128) continue;
    const json = JSON.stringify(v);
    if (json === undefined || json.length > 512 || json.includes(credential)) continue;
    out[k] = v;
    n++;
  }
  return out;
}
