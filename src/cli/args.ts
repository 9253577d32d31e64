import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AirlockError, ErrorCodes } from '../core/errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Strict flag parsing; unknown flags are usage errors. `--config` is accepted by every command. */
export function parse(argv: string[], options: Options): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { config: { type: 'string' }, ...options }, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, string | boolean | string[] | undefined>, positionals: r.positionals };
  } catch (err) {
    throw new AirlockError(ErrorCodes.usage, (err as Error).message);
  }
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

export const stdio: Io = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};
