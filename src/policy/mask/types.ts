/** Built-in kinds; operators may add custom ones by name. */
export type BuiltinKind =
  | 'email'
  | 'credit_card'
  | 'ssn'
  | 'iban'
  | 'phone'
  | 'ipv4'
  | 'ipv6'
  | 'jwt'
  | 'private_key'
  | 'secret'
  | 'name';

// `string & {}` keeps the literal members visible to editors while still accepting custom names.
export type MaskKind = BuiltinKind | (string & {});

export type MaskStrategy = 'redact' | 'partial' | 'hash';

export interface CustomDetectorSpec {
  readonly name: string;
  /** RE2 syntax (no lookaround, no backreferences); matched in linear time. */
  readonly pattern: string;
}

export interface MaskOptions {
  /** Enabled detector kinds; 'all' expands to every built-in. Custom detector names may be listed too. */
  readonly kinds: readonly string[];
  readonly strategy?: MaskStrategy;
  /** Column-name patterns masked whole; defaults to DEFAULT_COLUMN_RULES. See column-rules.ts for the syntax. */
  readonly columnRules?: readonly string[];
  readonly custom?: readonly CustomDetectorSpec[];
  /** HMAC key for the 'hash' strategy; required with it. */
  readonly sessionKey?: Buffer;
}

export interface MaskCounts {
  [kind: string]: number;
}

export interface Masker {
  /** Masks free text (statement text, error messages, terminal output). Returns the same string instance when nothing matched. */
  maskText(text: string, counts?: MaskCounts): string;
  /** Masks one result value of the named column (column rule first, then detectors). */
  maskValue(column: string, value: string, counts?: MaskCounts): string;
  /** Whether a column is masked whole by a column rule (lets callers skip scanning). */
  columnKind(column: string): string | undefined;
}

/** A half-open range [start, end) of the scanned text to be replaced. */
export interface Span {
  start: number;
  end: number;
}

/**
 * One detector. The engine runs `regex` only when `scan()` (hints.ts) raised one of `hints`, and keeps a
 * match only when `accept` returns a span (usually the match itself; narrower for key=value secrets).
 */
export interface Detector {
  readonly kind: string;
  /** Bitmask of hint bits from hints.ts; 0 means "always run" (custom detectors). */
  readonly hints: number;
  /** Global (`g`) regex; its lastIndex is reset by the engine before each use (accept may advance it). */
  readonly regex: RegExp;
  /** Higher wins when spans of different detectors overlap at the same start. */
  readonly priority: number;
  accept(match: RegExpExecArray, text: string): Span | null;
}
