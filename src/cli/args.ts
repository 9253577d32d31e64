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

/** A whole number in [min, max] given as a flag, or a usage error naming the flag. */
export function intFlag(v: unknown, flag: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new AirlockError(ErrorCodes.usage, `${flag} takes a whole number from ${min} to ${max}, not '${text}'`);
  return n;
}

/** One of `values` given as a flag, or a usage error listing them. */
export function choiceFlag<T extends string>(v: unknown, flag: string, values: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  const text = String(v);
  if (!(values as readonly string[]).includes(text)) throw new AirlockError(ErrorCodes.usage, `${flag} takes one of ${values.join(', ')}, not '${text}'`);
  return text as T;
}
