import type Database from 'better-sqlite3';

type Probe = { id: number; time: number } | undefined;

/**
 * Turns time bounds into rowid bounds by binary search over `events.id`, so no index on `time` has to be
 * kept up to date on every insert (it cost the recorder about a tenth of its write throughput).
 *
 * Ids follow recording order: the store has one writer, the recorder appends in the order events were
 * recorded, and it stamps them from a monotonic clock, so time never decreases with id within one run of the
 * gateway. Each probe is one seek on the rowid tree (`id >= ?`, so ids left by deleted sessions cost nothing),
 * about log2(ids) of them per bound. Callers still check each row's time: if the wall clock was set back
 * between two runs, time is not monotonic across that point and the search may land on either side of it
 * (docs/architecture.md says what that changes).
 */
export class EventIdRange {
  private readonly ends: Database.Statement;
  private readonly probe: Database.Statement;

  constructor(db: Database.Database) {
    // Two subqueries: SQLite answers a lone min() or max() from the end of the rowid tree, both at once by a scan.
    this.ends = db.prepare('SELECT (SELECT min(id) FROM events) AS lo, (SELECT max(id) FROM events) AS hi');
    this.probe = db.prepare('SELECT id, time FROM events WHERE id >= ? ORDER BY id LIMIT 1');
  }

  /** The first id whose event has `time >= t` (strict: `time > t`); past the last id when there is none. */
  firstAtOrAfter(t: number, strict = false): number {
    const ends = this.ends.get() as { lo: number | null; hi: number | null };
    if (ends.lo === null || ends.hi === null) return 0;
    // Every existing id below lo is before t; every existing id from hi on is at or after it.
    let lo = ends.lo;
    let hi = ends.hi + 1;
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
