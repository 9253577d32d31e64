import { BUILTIN_DETECTORS } from '../detectors/index.ts';
import { detectorSet, detectSpans } from '../engine.ts';
import { scan } from '../hints.ts';

const ALL = detectorSet(BUILTIN_DETECTORS);

/** "kind:matched text" for every region the built-in detectors would mask in `text`. */
export function found(text: string): string[] {
  return detectSpans(text, ALL, scan(text)).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`);
}

/** Same, without the pre-filter (every detector runs). */
export function foundUnfiltered(text: string): string[] {
  return detectSpans(text, ALL, -1).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`);
}
