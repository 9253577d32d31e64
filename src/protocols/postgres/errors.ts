import { ErrorCodes, clientMessage, isAirlockError } from '../../core/errors.ts';
import { encodeErrorResponse } from './codec/backend.ts';

/** SQLSTATE for each gateway error code (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const SQLSTATE: Record<string, string> = {
  [ErrorCodes.authFailed]: '28P01', // invalid_password
  [ErrorCodes.forbidden]: '28000', // invalid_authorization_specification
  [ErrorCodes.tlsRequired]: '28000',
  [ErrorCodes.unknownConnection]: '3D000', // invalid_catalog_name
  [ErrorCodes.protocol]: '08P01', // protocol_violation
  [ErrorCodes.frameTooLarge]: '08P01',
  [ErrorCodes.target]: '08001', // sqlclient_unable_to_establish_sqlconnection
  [ErrorCodes.store]: '58030', // io_error
  [ErrorCodes.denied]: '42501', // insufficient_privilege
};

export function sqlstateOf(err: unknown): string {
  return (isAirlockError(err) && SQLSTATE[err.code]) || 'XX000';
}

/** A FATAL ErrorResponse for an error raised before or outside a statement. */
export function fatalFor(err: unknown): Buffer {
  return encodeErrorResponse({ severity: 'FATAL', code: sqlstateOf(err), message: clientMessage(err) });
}

export function statementError(code: string, message: string, detail?: string, hint?: string): Buffer {
  return encodeErrorResponse({ severity: 'ERROR', code, message, detail, hint });
}
