/** Who is on the other end, whatever they presented (gateway token, OIDC, SAML, SSH key). */
export interface Identity {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  /** How the identity was proven; `local` is an operator on the gateway host using its data dir. */
  readonly authMethod: 'token' | 'oidc' | 'saml' | 'ssh-key' | 'local';
  /** Id of the credential that proved it (token id, key fingerprint…), never the secret. */
  readonly credentialId?: string;
  readonly claims?: Readonly<Record<string, unknown>>;
  /** When the credential stops being valid (ms since the epoch), where it says; sessions started from it end no later. */
  readonly expiresAt?: number;
}

export function inAnyGroup(identity: Identity, groups: readonly string[]): boolean {
  return identity.groups.some((g) => groups.includes(g));
}
