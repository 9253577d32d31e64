/**
 * Masking throughput on one core: `npx tsx bench/mask.ts` (MASK_BENCH_MB, MASK_BENCH_RUNS to change).
 *
 *   (a) naive    — every built-in detector's regex (and validator) on every value, no pre-filter
 *   (b) masker   — compileMasker({ kinds: ['all'] }).maskValue(column, value) per value
 *   (c) text     — maskText over the same values joined into psql-style lines ("v1 | v2 | …", 8 per line)
 *
 * Values are kept UTF-8 encoded back to back in one Buffer, as they arrive from a server, and decoded
 * a chunk at a time (untimed) right before masking, as a proxy does per network read; only masking is
 * timed. Row (b, cold) instead masks the whole decoded 50 MB array, so most values are cache misses.
 * (a) and (b) share the column rules, so their difference is the pre-filter alone, and their outputs
 * are compared: the pre-filter must never hide a match. (c) is free text without column rules, the cost
 * of scanning statement text or terminal output. MB/s are input bytes per second of wall-clock time and
 * of process CPU time (the latter is steadier when other work shares the machine).
 */
import { compileMasker, type Masker, type MaskCounts } from '../src/policy/mask/index.ts';
import { BUILTIN_DETECTORS } from '../src/policy/mask/detectors/index.ts';
import { detectorSet, maskString } from '../src/policy/mask/engine.ts';
import { scan } from '../src/policy/mask/hints.ts';
import { makeFormatter } from '../src/policy/mask/strategy.ts';
import { generateCells } from './fixtures/mask-rows.ts';

const MB = 1e6;
const targetMb = Number(process.env.MASK_BENCH_MB ?? 50);
const RUNS = Number(process.env.MASK_BENCH_RUNS ?? 5);
const CHUNK = 4096; // values per decode/mask step (~70 KB)

type MaskFn = (column: string, value: string, counts: MaskCounts) => string;

/** Values as a server sends them: one UTF-8 buffer, value i at bytes [offsets[i], offsets[i+1]). */
interface Wire {
  readonly columns: readonly string[];
  readonly buf: Buffer;
  readonly offsets: Uint32Array;
}

function toWire(columns: readonly string[], values: readonly string[]): Wire {
  const offsets = new Uint32Array(values.length + 1);
  for (let i = 0; i < values.length; i++) offsets[i + 1] = offsets[i] + Buffer.byteLength(values[i]);
  return { columns, buf: Buffer.from(values.join(''), 'utf8'), offsets };
}

function naive(masker: Masker): MaskFn {
  const set = detectorSet(BUILTIN_DETECTORS);
  const format = makeFormatter('redact', undefined);
  return (column, value, counts) => {
    if (value.length === 0) return value;
    const kind = masker.columnKind(column);
    if (kind !== undefined) {
      counts[kind] = (counts[kind] ?? 0) + 1;
      return format(kind, value);
    }
    return maskString(value, set, format, counts, false);
  };
}

interface Result {
  readonly name: string;
  readonly wall: number[];
  readonly cpu: number[];
  readonly counts: MaskCounts;
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return u.user + u.system;
}

type Variant = 'naive' | 'value' | 'text';

/**
 * Masks values [base, end) with one variant. Each variant has its own loop so that every call site
 * sees a single callee (a shared `fn(...)` call would go megamorphic and skew the comparison).
 */
function maskRange(
  variant: Variant,
  fns: { readonly naive: MaskFn; readonly masker: Masker },
  columns: readonly string[],
  values: readonly string[],
  offset: number,
  base: number,
  end: number,
  counts: MaskCounts,
  out: string[] | undefined,
): number {
  let sink = 0;
  if (variant === 'naive') {
    const fn = fns.naive;
    for (let i = base; i < end; i++) {
      const v = fn(columns[i], values[i - offset], counts);
      if (out !== undefined) out[i] = v;
      else sink += v.length;
    }
  } else if (variant === 'value') {
    const m = fns.masker;
    for (let i = base; i < end; i++) {
      const v = m.maskValue(columns[i], values[i - offset], counts);
      if (out !== undefined) out[i] = v;
      else sink += v.length;
    }
  } else {
    const m = fns.masker;
    for (let i = base; i < end; i++) {
      const v = m.maskText(values[i - offset], counts);
      if (out !== undefined) out[i] = v;
      else sink += v.length;
    }
  }
  return sink;
}

/** Streamed: decode a chunk (untimed), mask it (timed). */
function runStreamed(name: string, variant: Variant, fns: Parameters<typeof maskRange>[1], wire: Wire): Result {
  const n = wire.columns.length;
  const bytes = wire.buf.length;
  const values = new Array<string>(CHUNK);
  const wall: number[] = [];
  const cpu: number[] = [];
  let counts: MaskCounts = {};
  for (let r = -1; r < RUNS; r++) {
    // r = -1 is the warm-up pass.
    counts = {};
    let ns = 0;
    let us = 0;
    let sink = 0;
    for (let base = 0; base < n; base += CHUNK) {
      const end = Math.min(n, base + CHUNK);
      for (let i = base; i < end; i++) values[i - base] = wire.buf.toString('utf8', wire.offsets[i], wire.offsets[i + 1]);
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      sink += maskRange(variant, fns, wire.columns, values, base, base, end, counts, undefined);
      ns += Number(process.hrtime.bigint() - t0);
      us += cpuMicros(cpu0);
    }
    if (sink < 0) console.log(sink);
    if (r >= 0) {
      wall.push(bytes / MB / (ns / 1e9));
      cpu.push(bytes / MB / (us / 1e6));
    }
  }
  return { name, wall, cpu, counts };
}

/** Cold: one pass over the whole decoded array. */
function runCold(name: string, fns: Parameters<typeof maskRange>[1], columns: readonly string[], values: readonly string[], bytes: number): Result {
  const wall: number[] = [];
  const cpu: number[] = [];
  let counts: MaskCounts = {};
  for (let r = -1; r < RUNS; r++) {
    counts = {};
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const sink = maskRange('value', fns, columns, values, 0, 0, values.length, counts, undefined);
    const ns = Number(process.hrtime.bigint() - t0);
    const us = cpuMicros(cpu0);
    if (sink < 0) console.log(sink);
    if (r >= 0) {
      wall.push(bytes / MB / (ns / 1e9));
      cpu.push(bytes / MB / (us / 1e6));
    }
  }
  return { name, wall, cpu, counts };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  const t0 = Date.now();
  const cells = generateCells(targetMb * MB);
  // Column names are decoded once per result set, so all rows share one instance per name.
  const names = new Map<string, string>();
  const columns = cells.map((c) => {
    let name = names.get(c.column);
    if (name === undefined) names.set(c.column, (name = c.column));
    return name;
  });
  const wire = toWire(
    columns,
    cells.map((c) => c.value),
  );
  const bytes = wire.buf.length;
  let hinted = 0;
  for (const c of cells) if (scan(c.value) !== 0) hinted++;
  console.log(
    `data: ${(bytes / MB).toFixed(1)} MB in ${cells.length.toLocaleString('en-US')} values ` +
      `(avg ${(bytes / cells.length).toFixed(1)} B; pre-filter fires on ${((100 * hinted) / cells.length).toFixed(1)}%), ` +
      `generated in ${Date.now() - t0} ms; node ${process.version}; ${RUNS} timed runs after a warm-up`,
  );

  const masker = compileMasker({ kinds: ['all'] });
  const fns = { naive: naive(masker), masker };
  const lineValues: string[] = [];
  for (let i = 0; i < cells.length; i += 8) lineValues.push(cells.slice(i, i + 8).map((c) => c.value).join(' | '));
  const lines = toWire(
    lineValues.map(() => ''),
    lineValues,
  );
  const flat: string[] = [];
  for (let i = 0; i < cells.length; i++) flat.push(wire.buf.toString('utf8', wire.offsets[i], wire.offsets[i + 1]));

  const results = [
    runStreamed('(a) naive: every regex on every value', 'naive', fns, wire),
    runStreamed('(b) compileMasker all kinds, maskValue', 'value', fns, wire),
    runStreamed('(c) compileMasker all kinds, maskText', 'text', fns, lines),
    runCold('(b, cold) maskValue over a 50 MB array', fns, columns, flat, bytes),
  ];

  // Untimed: (a) and (b) must mask every value identically.
  const [a, bb] = results;
  let diffs = 0;
  for (let i = 0; i < flat.length; i++) {
    const x = fns.naive(columns[i], flat[i], {});
    const y = masker.maskValue(columns[i], flat[i]);
    if (x !== y && diffs++ < 5) console.log(`MISMATCH ${columns[i]}=${JSON.stringify(flat[i])}: ${x} vs ${y}`);
  }

  const f = (x: number): string => x.toFixed(1);
  const rows = results.map((r) => [r.name, f(median(r.wall)), f(Math.max(...r.wall)), f(median(r.cpu)), f(Math.max(...r.cpu))]);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\n${'variant'.padEnd(w)} | wall MB/s median | wall best | CPU MB/s median | CPU best`);
  console.log(`${'-'.repeat(w)}-|------------------|-----------|-----------------|---------`);
  for (const [n, ...xs] of rows) {
    console.log(`${n.padEnd(w)} | ${xs[0].padStart(16)} | ${xs[1].padStart(9)} | ${xs[2].padStart(15)} | ${xs[3].padStart(8)}`);
  }
  console.log(
    `\nratio (b)/(a), medians: wall ${(median(bb.wall) / median(a.wall)).toFixed(2)}x, CPU ${(median(bb.cpu) / median(a.cpu)).toFixed(2)}x`,
  );
  console.log(`masked by (b): ${JSON.stringify(bb.counts)}`);
  console.log(diffs === 0 ? 'outputs of (a) and (b) identical' : `${diffs} outputs differ between (a) and (b)`);
  if (diffs !== 0) process.exitCode = 1;
}

main();
