/**
 * Coded errors. `code` is stable (AIRLOCK_ERR_*), `expose` says whether the message may be shown to a
 * client; adapters translate these at the edge into their protocol's own error.
 */
export const ErrorCodes = {
  config: 'AIRLOCK_ERR_CONFIG',
  authFailed: 'AIRLOCK_ERR_AUTH_FAILED',
  forbidden: 'AIRLOCK_ERR_FORBIDDEN',
  unknownConnection: 'AIRLOCK_ERR_UNKNOWN_CONNECTION',
  tlsRequired: 'AIRLOCK_ERR_TLS_REQUIRED',
  protocol: 'AIRLOCK_ERR_PROTOCOL',
  frameTooLarge: 'AIRLOCK_ERR_FRAME_TOO_LARGE',
  target: 'AIRLOCK_ERR_TARGET',
  store: 'AIRLOCK_ERR_STORE',
  notFound: 'AIRLOCK_ERR_NOT_FOUND',
  denied: 'AIRLOCK_ERR_POLICY_DENIED',
  usage: 'AIRLOCK_ERR_USAGE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class AirlockError extends Error {
  readonly code: ErrorCode;
  /** Safe to show to the remote client. */
  readonly expose: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; expose?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AirlockError';
    this.code = code;
    this.expose = options.expose ?? false;
  }
}

/** Raised by codecs on malformed or oversized input; ends that session only. */
export class ProtocolError extends AirlockError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(ErrorCodes.protocol, message, { ...options, expose: true });
    this.name = 'ProtocolError';
  }
}

export function isAirlockError(err: unknown): err is AirlockError {
  return err instanceof AirlockError;
}

/** Message safe for a client: the error's own text when exposable, a generic one otherwise. */
export function clientMessage(err: unknown, fallback = 'internal gateway error'): string {
  return isAirlockError(err) && err.expose ? err.message : fallback;
}
