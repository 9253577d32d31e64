import { AirlockError, ErrorCodes } from './errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parses `90s`, `15m`, `8h`, `90d`, `1h30m` into milliseconds; throws on anything else. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (matched === 0 || matched !== text.length) throw new Error(`invalid duration '${text}' (use e.g. 30s, 15m, 8h, 90d)`);
  return total;
}

/** `30m`, `8h`, `7d` (that long before `now`), an ISO 8601 time, or milliseconds since the epoch. */
export function parseInstant(text: string, now: number, what: string): number {
  if (/^\d{12,}$/.test(text)) return Number(text);
  try {
    return now - parseDuration(text);
  } catch {
    const t = Date.parse(text);
    if (Number.isNaN(t)) throw new AirlockError(ErrorCodes.usage, `${what} takes a duration (30m, 8h, 7d) or an ISO 8601 time, not '${text}'`, { expose: true });
    return t;
  }
}
