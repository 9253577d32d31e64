import type { ConnectionConfig } from '../config/schema.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { inAnyGroup, type Identity } from '../core/identity.ts';
import { clientText } from '../core/client-text.ts';

/** Deny by default: the identity needs a group listed in the connection's `allow`. */
/** A connection that does not exist and one the identity may not use are refused alike: names are not told. */
export function checkConnectionAccess(identity: Identity, name: string, connection: ConnectionConfig | undefined): ConnectionConfig {
  if (!connection || !inAnyGroup(identity, connection.allow)) {
    throw new AirlockError(ErrorCodes.forbidden, `connection "${clientText(name)}" does not exist or you may not use it`, { expose: true });
  }
  return connection;
}

/** Connections with `access.requireRequest` also need an approved, unexpired access request. */
export async function checkAccessGrant(identity: Identity, name: string, connection: ConnectionConfig, hasAccess: ((i: Identity, c: string) => Promise<boolean>) | undefined): Promise<void> {
  if (!connection.access?.requireRequest) return;
  if (hasAccess && (await hasAccess(identity, name))) return;
  throw new AirlockError(ErrorCodes.forbidden, `connection "${name}" requires an approved access request: airlock access request ${name} --for 1h --reason "..."`, { expose: true });
}
