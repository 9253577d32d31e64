/**
 * Masking engine: finds PII and secrets in result values and free text and replaces them according
 * to a strategy. Pure (no I/O); compile once per policy/session with compileMasker() and reuse.
 *
 *   hints.ts         one-pass pre-filter deciding which detectors can possibly match a string
 *   detectors/*.ts   one file per kind: regex + validator (Luhn, mod-97, SSA ranges, JWT header …)
 *   engine.ts        runs the detectors a scan allows, merges overlaps, builds the output
 *   column-rules.ts  column names masked whole (password, ssn, first_name …)
 *   strategy.ts      redact / partial / hash replacements
 */
import { compileColumnRules, DEFAULT_COLUMN_RULES } from './column-rules.ts';
import { compileCustomDetector } from './detectors/custom.ts';
import { BUILTIN_DETECTORS, BUILTIN_KINDS } from './detectors/index.ts';
import { detectorSet, maskString } from './engine.ts';
import { makeFormatter } from './strategy.ts';
import type { Detector, Masker, MaskOptions } from './types.ts';

export type { BuiltinKind, CustomDetectorSpec, MaskCounts, MaskKind, Masker, MaskOptions, MaskStrategy } from './types.ts';
export { BUILTIN_KINDS } from './detectors/index.ts';
export { DEFAULT_COLUMN_RULES } from './column-rules.ts';

const MASK_TOKEN_RE = /^\[[A-Z][A-Z0-9_]*(?:[: ][^\]\s]*)?\](?:@[A-Za-z0-9.\-]+)?$/;

/** "[KIND]", "[KIND:1f3a9c2b]", "[CREDIT_CARD ****1111]", "[EMAIL]@example.com": output of a strategy. */
function isWholeMaskToken(value: string): boolean {
  return MASK_TOKEN_RE.test(value);
}

/** Column-name → kind results are cached per masker; result sets reuse a handful of names. */
const COLUMN_CACHE_LIMIT = 4096;
const BUILTIN_SET: ReadonlySet<string> = new Set(BUILTIN_KINDS);

function expandKinds(kinds: readonly string[], customNames: ReadonlySet<string>): Set<string> {
  if (!Array.isArray(kinds)) throw new Error("mask: 'kinds' must be an array of kind names");
  const out = new Set<string>();
  for (const k of kinds) {
    if (k === 'all') {
      for (const b of BUILTIN_KINDS) out.add(b);
    } else if (BUILTIN_SET.has(k) || customNames.has(k)) {
      out.add(k);
    } else {
      throw new Error(
        `mask: unknown kind ${JSON.stringify(k)}; expected 'all', one of ${BUILTIN_KINDS.join(', ')}` +
          (customNames.size > 0 ? `, or a custom detector (${[...customNames].join(', ')})` : ''),
      );
    }
  }
  return out;
}

/**
 * Validates the options once and returns a masker. Throws an Error naming the bad option.
 *
 * Custom detectors are always active (configuring one is opting in); their names may also appear in
 * `kinds`. Column rules apply whatever `kinds` says; person-name columns are masked only when 'name'
 * is enabled. Empty values are returned as they are.
 */
export function compileMasker(options: MaskOptions): Masker {
  if (options === null || typeof options !== 'object') throw new Error('mask: options must be an object');
  const customSpecs = options.custom ?? [];
  if (!Array.isArray(customSpecs)) throw new Error("mask: 'custom' must be an array of { name, pattern }");
  const reserved = new Set<string>([...BUILTIN_KINDS, 'all']);
  const custom: Detector[] = [];
  for (const spec of customSpecs) {
    custom.push(compileCustomDetector(spec, reserved));
    reserved.add(spec.name);
  }
  const kinds = expandKinds(options.kinds, new Set(custom.map((d) => d.kind)));
  const set = detectorSet([...BUILTIN_DETECTORS.filter((d) => kinds.has(d.kind)), ...custom]);
  const format = makeFormatter(options.strategy ?? 'redact', options.sessionKey);
  const rules = options.columnRules ?? DEFAULT_COLUMN_RULES;
  if (!Array.isArray(rules)) throw new Error("mask: 'columnRules' must be an array of strings");
  const resolveColumn = compileColumnRules(rules, kinds.has('name'));

  const columnCache = new Map<string, string | null>();
  const columnKind = (column: string): string | undefined => {
    let kind = columnCache.get(column);
    if (kind === undefined) {
      kind = resolveColumn(column) ?? null;
      if (columnCache.size >= COLUMN_CACHE_LIMIT) columnCache.clear();
      columnCache.set(column, kind);
    }
    return kind ?? undefined;
  };

  return {
    maskText: (text, counts) => maskString(text, set, format, counts),
    maskValue(column, value, counts) {
      if (value.length === 0) return value;
      const kind = columnKind(column);
      if (kind === undefined) return maskString(value, set, format, counts);
      if (value.charCodeAt(0) === 91 && isWholeMaskToken(value)) return value; // already masked
      if (counts !== undefined) counts[kind] = (counts[kind] ?? 0) + 1;
      return format(kind, value);
    },
    columnKind,
  };
}
