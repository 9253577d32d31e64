import type Database from 'better-sqlite3';

type Probe = { id: number; time: number } | undefined;

/** Ids `lo` (inclusive) to `hi` (exclusive). */
export type IdRange = { lo: number; hi: number };

/**
 * Turns time bounds into rowid ranges by binary search over `events.id`, so no index on `time` has to be
 * kept up to date on every insert (it cost the recorder about a tenth of its write throughput).
 *
 * Ids follow recording order, and within one writer's run time never decreases with id (the recorder stamps
 * events from a monotonic clock). It can decrease where the wall clock was set back between runs, or where two
 * processes writing the store (the gateway, `airlock replay --exec`) interleave their batches. The event writer
 * records each such id in `event_time_steps`; the steps split the ids into segments in which time does not
 * decrease, and each segment is binary-searched on its own, so the ranges hold exactly the events in the window.
 * The table is normally empty and always small (one row per step), so it is read on every call.
 *
 * Deleting sessions leaves step ids that point at missing rows (and an id freed at the end may be used again).
 * That is harmless, so they are kept: removing rows cannot make time decrease within a segment, and a step
 * only ever splits the ids further, which costs one more search, never a wrong bound.
 *
 * Each probe is one seek on the rowid tree (`id >= ?`, so ids left by deleted sessions cost nothing), about
 * log2(ids in the segment) of them per bound.
 */
export class EventIdRange {
  private readonly ends: Database.Statement;
  private readonly steps: Database.Statement;
  private readonly probe: Database.Statement;
  private readonly snapshot: (since: number | undefined, until: number | undefined, inclusive: boolean) => IdRange[];

  constructor(db: Database.Database) {
    // Two subqueries: SQLite answers a lone min() or max() from the end of the rowid tree, both at once by a scan.
    this.ends = db.prepare('SELECT (SELECT min(id) FROM events) AS lo, (SELECT max(id) FROM events) AS hi');
    this.steps = db.prepare('SELECT id FROM event_time_steps WHERE id > ? AND id <= ? ORDER BY id').pluck();
    this.probe = db.prepare('SELECT id, time FROM events WHERE id >= ? ORDER BY id LIMIT 1');
    // One read transaction: the ends, the steps and the probes see the same events while another
    // connection appends.
    this.snapshot = db.transaction((since, until, inclusive) => this.compute(since, until, inclusive));
  }

  /**
   * The id ranges, in id order (no empty span among them), holding exactly the events with `since <= time < until`
   * (`time <= until` when `inclusive`); a missing bound is open. With no `until` the last range is open
   * too, so events appended while a caller pages through it are included (their time is past `since` unless a
   * new step was recorded meanwhile, which is why callers still check each row's time).
   */
  ranges(since?: number, until?: number, inclusive = false): IdRange[] {
    return this.snapshot(since, until, inclusive);
  }

  private compute(since: number | undefined, until: number | undefined, inclusive: boolean): IdRange[] {
    const ends = this.ends.get() as { lo: number | null; hi: number | null };
    if (ends.lo === null || ends.hi === null) return [];
    const starts = [ends.lo, ...(this.steps.all(ends.lo, ends.hi) as number[])];
    const out: IdRange[] = [];
    for (let i = 0; i < starts.length; i++) {
      const last = i === starts.length - 1;
      const segment = { lo: starts[i], hi: last ? ends.hi + 1 : starts[i + 1] };
      const lo = since === undefined ? segment.lo : this.first(segment, since, false);
      const hi = until === undefined ? (last ? Number.MAX_SAFE_INTEGER : segment.hi) : this.first(segment, until, inclusive);
      if (lo < hi) out.push({ lo, hi });
    }
    return out;
  }

  /** In a segment where time does not decrease: the first id with `time >= t` (strict: `time > t`), or its end. */
  private first(segment: IdRange, t: number, strict: boolean): number {
    // Every existing id below lo is before t; every existing id from hi on is at or after it.
    let { lo, hi } = segment;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.probe.get(mid) as Probe;
      if (!row || row.id >= hi) hi = mid; // no event in [mid, hi)
      else if (strict ? row.time > t : row.time >= t) hi = row.id;
      else lo = row.id + 1;
    }
    return lo;
  }
}
