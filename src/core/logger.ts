import pino from 'pino';

export type Logger = pino.Logger;

/** Structured logger. Secrets never reach it: callers log ids, never tokens or passwords. */
export function createLogger(options: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      name: options.name ?? 'airlock',
      level: options.level ?? process.env.AIRLOCK_LOG_LEVEL ?? 'info',
      redact: { paths: ['password', '*.password', 'token', '*.token', 'secret', '*.secret'], censor: '[redacted]' },
    },
    options.destination,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
