import { apiTarget, callApi } from './api-client.ts';
import { parse, type Io } from './args.ts';

export const HELP = `airlock whoami [--json]   who the gateway takes you for: subject, groups and roles of the credential you present
  (acts as you: --token T, AIRLOCK_TOKEN or the airlock login session; --url or AIRLOCK_URL)`;

interface Me {
  readonly subject: string;
  readonly kind: string;
  readonly authMethod: string;
  readonly groups: readonly string[];
  readonly roles: readonly string[];
  readonly credentialId?: string;
  readonly expiresAt?: number;
}

/** `airlock whoami`: the identity, groups and roles the gateway resolves for the presented credential (GET /api/me). */
export async function whoamiCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { token: { type: 'string' }, url: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help || positionals.length > 0) {
    io.err(HELP);
    return values.help ? 0 : 2;
  }
  const me = await callApi<Me>(await apiTarget(values), 'GET', '/api/me');
  if (values.json) {
    io.out(JSON.stringify(me, null, 2));
    return 0;
  }
  io.out(`subject:     ${me.subject} (${me.kind})`);
  io.out(`groups:      ${me.groups.join(', ') || 'none'}   (carried by this credential)`);
  io.out(`roles:       ${me.roles.join(', ')}`);
  io.out(`credential:  ${me.authMethod}${me.credentialId ? ` ${me.credentialId}` : ''}${me.expiresAt ? `, expires ${new Date(me.expiresAt).toISOString()}` : ''}`);
  return 0;
}
