import RE2 from 're2';
import type { CustomDetectorSpec, Detector, Span } from '../types.ts';

/**
 * Operator-supplied detectors, compiled with RE2 so that matching is linear in the input whatever the
 * pattern (no catastrophic backtracking on `(a+)+$`-style expressions). RE2 has no look-around or
 * backreferences; such patterns are rejected at compile time with RE2's reason.
 */

const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;
const MAX_PATTERN_LENGTH = 1024;

function acceptWhole(m: RegExpExecArray): Span | null {
  return m[0].length === 0 ? null : { start: m.index, end: m.index + m[0].length };
}

export function compileCustomDetector(spec: CustomDetectorSpec, reserved: ReadonlySet<string>): Detector {
  if (spec === null || typeof spec !== 'object') throw new Error('mask: each custom detector must be { name, pattern }');
  const { name, pattern } = spec;
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new Error(`mask: custom detector name ${JSON.stringify(name)} must match ${NAME_RE.source}`);
  }
  if (reserved.has(name)) throw new Error(`mask: custom detector name '${name}' is already taken`);
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new Error(`mask: custom detector '${name}' needs a non-empty pattern`);
  }
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new Error(`mask: custom detector '${name}' pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  }
  let regex: RE2;
  try {
    regex = new RE2(pattern, 'g');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(
      `mask: custom detector '${name}': pattern ${JSON.stringify(pattern)} is not valid RE2 syntax (${reason}); ` +
        'look-around and backreferences are not supported',
    );
  }
  if (regex.test('')) {
    throw new Error(`mask: custom detector '${name}': pattern ${JSON.stringify(pattern)} matches the empty string`);
  }
  regex.lastIndex = 0;
  // Custom patterns have no pre-filter: hints 0 means "run on every value".
  return { kind: name, hints: 0, regex, priority: 10, accept: acceptWhole };
}
