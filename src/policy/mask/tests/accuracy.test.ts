import { describe, expect, it } from 'vitest';
import { BUILTIN_DETECTORS } from '../detectors/index.ts';
import { detectorSet, detectSpans } from '../engine.ts';
import { LABELLED_SAMPLES } from '../fixtures/labelled.ts';
import { scan } from '../hints.ts';

interface Tally {
  tp: number;
  fp: number;
  fn: number;
}

/** Exact-span scoring: a detection counts only with the labelled kind, start and end. */
function score(): { perKind: Map<string, Tally>; overall: Tally; misses: string[] } {
  const set = detectorSet(BUILTIN_DETECTORS);
  const perKind = new Map<string, Tally>();
  const overall: Tally = { tp: 0, fp: 0, fn: 0 };
  const misses: string[] = [];
  const tally = (kind: string): Tally => {
    let t = perKind.get(kind);
    if (t === undefined) perKind.set(kind, (t = { tp: 0, fp: 0, fn: 0 }));
    return t;
  };
  for (const { text, spans } of LABELLED_SAMPLES) {
    const got = detectSpans(text, set, scan(text));
    const key = (s: { kind: string; start: number; end: number }): string => `${s.kind}@${s.start}-${s.end}`;
    const expected = new Set(spans.map(key));
    const detected = new Set(got.map(key));
    for (const s of got) {
      const hit = expected.has(key(s));
      tally(s.kind)[hit ? 'tp' : 'fp']++;
      overall[hit ? 'tp' : 'fp']++;
      if (!hit) misses.push(`FP ${s.kind} ${JSON.stringify(text.slice(s.start, s.end))} in ${JSON.stringify(text.slice(0, 60))}`);
    }
    for (const s of spans) {
      if (detected.has(key(s))) continue;
      tally(s.kind).fn++;
      overall.fn++;
      misses.push(`FN ${s.kind} ${JSON.stringify(text.slice(s.start, s.end))} in ${JSON.stringify(text.slice(0, 60))}`);
    }
  }
  return { perKind, overall, misses };
}

const precision = (t: Tally): number => (t.tp + t.fp === 0 ? 1 : t.tp / (t.tp + t.fp));
const recall = (t: Tally): number => (t.tp + t.fn === 0 ? 1 : t.tp / (t.tp + t.fn));

describe('accuracy on the labelled fixture', () => {
  it('has enough samples, positives and negatives', () => {
    expect(LABELLED_SAMPLES.length).toBeGreaterThanOrEqual(300);
    expect(LABELLED_SAMPLES.filter((s) => s.spans.length === 0).length).toBeGreaterThanOrEqual(100);
  });

  it('reaches precision and recall ≥ 0.95 overall', () => {
    const { perKind, overall, misses } = score();
    const rows = [...perKind.entries()].sort(([a], [b]) => a.localeCompare(b));
    const line = (name: string, t: Tally): string =>
      `${name.padEnd(12)} P=${precision(t).toFixed(3)} R=${recall(t).toFixed(3)} (tp ${t.tp}, fp ${t.fp}, fn ${t.fn})`;
    console.log(
      [`mask accuracy over ${LABELLED_SAMPLES.length} samples:`, ...rows.map(([k, t]) => line(k, t)), line('overall', overall), ...misses].join(
        '\n',
      ),
    );
    expect(precision(overall)).toBeGreaterThanOrEqual(0.95);
    expect(recall(overall)).toBeGreaterThanOrEqual(0.95);
    for (const [, t] of rows) {
      expect(precision(t)).toBeGreaterThanOrEqual(0.8);
      expect(recall(t)).toBeGreaterThanOrEqual(0.8);
    }
  });
});
