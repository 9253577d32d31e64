import { scan } from './hints.ts';
import type { Formatter } from './strategy.ts';
import type { Detector, MaskCounts } from './types.ts';

interface Found {
  start: number;
  end: number;
  readonly kind: string;
  readonly priority: number;
}

/** A set of enabled detectors, ready to mask strings. */
export interface DetectorSet {
  readonly detectors: readonly Detector[];
  /** OR of the enabled detectors' hint bits: a scan result outside it needs no regex. */
  readonly hintMask: number;
  /** Some detector (custom) has no pre-filter and must always run. */
  readonly alwaysRun: boolean;
}

export function detectorSet(detectors: readonly Detector[]): DetectorSet {
  let hintMask = 0;
  let alwaysRun = false;
  for (const d of detectors) {
    if (d.hints === 0) alwaysRun = true;
    hintMask |= d.hints;
  }
  return { detectors, hintMask, alwaysRun };
}

function collect(text: string, hints: number, set: DetectorSet): Found[] | undefined {
  let found: Found[] | undefined;
  for (const d of set.detectors) {
    if (d.hints !== 0 && (d.hints & hints) === 0) continue;
    const re = d.regex;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex = m.index + 1;
        continue;
      }
      const span = d.accept(m, text);
      if (span !== null && span.end > span.start) {
        (found ??= []).push({ start: span.start, end: span.end, kind: d.kind, priority: d.priority });
      } else if (re.lastIndex === m.index + m[0].length) {
        // A rejected candidate may hide a real match that starts inside it ("0 4111-1111-…").
        re.lastIndex = m.index + 1;
      }
    }
  }
  return found;
}

/**
 * Overlapping spans are merged into one masked region labelled with the kind that starts first (the
 * higher priority on a tie), so no part of either match can leak next to the replacement.
 */
function merge(found: Found[]): Found[] {
  if (found.length === 1) return found;
  found.sort((a, b) => a.start - b.start || b.priority - a.priority || b.end - a.end);
  const out: Found[] = [found[0]];
  for (let i = 1; i < found.length; i++) {
    const f = found[i];
    const last = out[out.length - 1];
    if (f.start < last.end) {
      if (f.end > last.end) last.end = f.end;
    } else out.push(f);
  }
  return out;
}

/** The regions of `text` the set would mask, merged and in order (for tests and diagnostics). */
export function detectSpans(text: string, set: DetectorSet, hints = -1): readonly DetectedSpan[] {
  const found = collect(text, hints, set);
  return found === undefined ? [] : merge(found).map(({ kind, start, end }) => ({ kind, start, end }));
}

export interface DetectedSpan {
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

/**
 * A replacement can change what its neighbours look like ("…9+1 202…" becomes "[PHONE]+1 202…"), so
 * masked output is scanned again until nothing new is found; this makes masking idempotent. Only text
 * that had a match pays for the extra passes.
 */
const MAX_PASSES = 4;

/**
 * Masks every detected span of `text`; returns `text` itself when nothing is found. `filter: false`
 * runs every detector on every text (the benchmark's baseline and the tests' reference).
 */
export function maskString(text: string, set: DetectorSet, format: Formatter, counts: MaskCounts | undefined, filter = true): string {
  let current = text;
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const hints = !filter ? -1 : set.hintMask === 0 ? 0 : scan(current) & set.hintMask;
    if (hints === 0 && !set.alwaysRun) return current;
    const next = maskWithHints(current, hints, set, format, counts);
    if (next === current) return current;
    current = next;
  }
  return current;
}

/**
 * Runs the detectors whose hint bits are in `hints` (all of them with -1: the unfiltered baseline the
 * benchmark compares against) and replaces what they find.
 */
export function maskWithHints(text: string, hints: number, set: DetectorSet, format: Formatter, counts: MaskCounts | undefined): string {
  const found = collect(text, hints, set);
  if (found === undefined) return text;
  const spans = merge(found);
  let out = '';
  let pos = 0;
  for (const s of spans) {
    out += text.slice(pos, s.start) + format(s.kind, text.slice(s.start, s.end));
    pos = s.end;
    if (counts !== undefined) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
  }
  return out + text.slice(pos);
}
