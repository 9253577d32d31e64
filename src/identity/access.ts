import type { ConnectionConfig } from '../config/schema.ts';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { inAnyGroup, type Identity } from '../core/identity.ts';

/** Deny by default: the identity needs a group listed in the connection's `allow`. */
export function checkConnectionAccess(identity: Identity, name: string, connection: ConnectionConfig | undefined): ConnectionConfig {
  if (!connection) throw new AirlockError(ErrorCodes.unknownConnection, `connection "${name}" does not exist or you may not use it`, { expose: true });
  if (!inAnyGroup(identity, connection.allow)) {
    throw new AirlockError(ErrorCodes.forbidden, `${identity.subject} may not use connection "${name}"`, { expose: true });
  }
  return connection;
}
