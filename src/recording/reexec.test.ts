import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/load.ts';
import type { SessionRecord } from '../store/types.ts';
import { compareOutcome, sandboxConnection, type RecordedOutcome } from './reexec.ts';

const ok = (...results: [string, number][]): RecordedOutcome => ({ results: results.map(([tag, rows]) => ({ tag, rows })), skipped: false });

describe('compareOutcome', () => {
  it('same outcome and row count', () => {
    expect(compareOutcome(ok(['SELECT 5', 5]), { results: [{ tag: 'SELECT 5', rows: 5 }] })).toEqual({ kind: 'same', text: 'same (SELECT 5)' });
    expect(compareOutcome(ok(['CREATE TABLE', 0]), { results: [{ tag: 'CREATE TABLE', rows: 0 }] }).kind).toBe('same');
  });

  it('rows differ', () => {
    expect(compareOutcome(ok(['SELECT 5', 5]), { results: [{ tag: 'SELECT 3', rows: 3 }] })).toEqual({ kind: 'rows_differ', text: 'rows differ (recorded 5, now 3)' });
    expect(compareOutcome(ok(['BEGIN', 0], ['UPDATE 2', 2]), { results: [{ tag: 'BEGIN', rows: 0 }, { tag: 'UPDATE 0', rows: 0 }] }).text).toBe(
      'rows differ in statement 2 of 2 (recorded 2, now 0)',
    );
  });

  it('errors', () => {
    const err = { code: '42P01', severity: 'ERROR', message: 'relation "t" does not exist' };
    expect(compareOutcome(ok(['SELECT 1', 1]), { results: [], error: err })).toEqual({ kind: 'error_now', text: 'error now: 42P01 relation "t" does not exist' });
    expect(compareOutcome({ results: [], error: { code: '42P01', message: 'x' }, skipped: false }, { results: [{ tag: 'SELECT 1', rows: 1 }] })).toEqual({
      kind: 'fixed', text: 'was error, now ok (recorded 42P01: x)',
    });
    expect(compareOutcome({ results: [], error: { code: '42P01', message: 'x' }, skipped: false }, { results: [], error: err }).kind).toBe('same');
    expect(compareOutcome({ results: [], error: { code: '23505', message: 'dup' }, skipped: false }, { results: [], error: err }).kind).toBe('error_differs');
  });

  it('different statement results or columns', () => {
    expect(compareOutcome(ok(['SELECT 1', 1]), { results: [{ tag: 'SELECT 1', rows: 1 }, { tag: 'SELECT 1', rows: 1 }] }).kind).toBe('result_differs');
    expect(compareOutcome({ results: [{ tag: 'SELECT 1', rows: 1, columns: ['a'] }], skipped: false }, { results: [{ tag: 'SELECT 1', rows: 1, columns: ['b'] }] }).text).toBe(
      'columns differ (recorded a; now b)',
    );
  });

  it('nothing recorded to compare with', () => {
    expect(compareOutcome(undefined, { results: [{ tag: 'SELECT 1', rows: 1 }] })).toEqual({ kind: 'unverified', text: 'no recorded outcome to compare; now SELECT 1' });
  });

  it('compares the sampled row values; hash-masked values by their kind only', () => {
    const rec = (sample: (string | null)[][]): RecordedOutcome => ({ results: [{ tag: 'SELECT 1', rows: 1, sample }], skipped: false });
    const now = { results: [{ tag: 'SELECT 1', rows: 1 }] };
    expect(compareOutcome(rec([['10']]), now, [{ sample: [['7']] }])).toEqual({ kind: 'rows_differ', text: 'row values differ in 1 of the sampled rows: row 1: recorded (10), now (7)' });
    expect(compareOutcome(rec([['10']]), now, [{ sample: [['10']] }]).kind).toBe('same');
    expect(compareOutcome(rec([[null]]), now, [{ sample: [['']] }]).kind).toBe('rows_differ');
    expect(compareOutcome(rec([['[EMAIL:1f3a9c2b]']]), now, [{ sample: [['[EMAIL:00aa11bb]']] }]).kind).toBe('same');
    expect(compareOutcome(rec([['[EMAIL]']]), now, [{ sample: [['[NAME]']] }]).kind).toBe('rows_differ');
  });

  it('compares the digest of all rows when both have one under the same secret; older recordings by sample', () => {
    const rec = (digest?: string): RecordedOutcome => ({ results: [{ tag: 'SELECT 3', rows: 3, sample: [['1']], ...(digest ? { digest } : {}) }], skipped: false });
    const now = { results: [{ tag: 'SELECT 3', rows: 3 }] };
    expect(compareOutcome(rec('k1:aa'), now, [{ sample: [['1']], digest: 'k1:aa' }]).kind).toBe('same');
    expect(compareOutcome(rec('k1:aa'), now, [{ sample: [['1']], digest: 'k1:bb' }])).toEqual({
      kind: 'rows_differ', text: 'rows differ (digest of all 3 rows differs; the 1 sampled rows are alike as stored, a later or masked value differs)',
    });
    expect(compareOutcome(rec('k1:aa'), now, [{ sample: [['2']], digest: 'k1:bb' }]).text).toBe('row values differ in 1 of the sampled rows: row 1: recorded (1), now (2)');
    // Equal digests: same rows, even where the stored samples differ (hash-masked under other keys).
    expect(compareOutcome(rec('k1:aa'), now, [{ sample: [['x']], digest: 'k1:aa' }]).kind).toBe('same');
    // No recorded digest, or another secret: the sample decides.
    expect(compareOutcome(rec(), now, [{ sample: [['1']], digest: 'k1:bb' }]).kind).toBe('same');
    expect(compareOutcome(rec('k2:aa'), now, [{ sample: [['1']], digest: 'k1:bb' }]).kind).toBe('same');
  });
});

describe('sandboxConnection', () => {
  const config = parseConfig(
    {
      connections: {
        prod: { type: 'postgres', host: '127.0.0.1', database: 'app', user: 'u' },
        sandbox: { type: 'postgres', host: '127.0.0.1', database: 'sandbox', user: 'u' },
        box: { type: 'ssh', host: '127.0.0.1', user: 'u' },
      },
    },
    '/',
  );
  const source = { id: 'ses_1', protocol: 'postgres', connection: 'prod' } as SessionRecord;

  it('refuses the session’s own connection unless forced', () => {
    expect(() => sandboxConnection(config, source, 'prod', false)).toThrow(/refusing to re-run session ses_1 against its own connection "prod".*--force/);
    expect(sandboxConnection(config, source, 'prod', true).database).toBe('app');
    expect(sandboxConnection(config, source, 'sandbox', false).database).toBe('sandbox');
  });

  it('also refuses another name for the same database', () => {
    const aliased = parseConfig(
      {
        connections: {
          prod: { type: 'postgres', host: 'db1', port: 5432, database: 'app', user: 'u' },
          'prod-ro': { type: 'postgres', host: 'db1', port: 5432, database: 'app', user: 'reader' },
        },
      },
      '/',
    );
    expect(() => sandboxConnection(aliased, source, 'prod-ro', false)).toThrow(/points at the same database as the session's connection "prod" \(db1:5432\/app\)/);
    expect(sandboxConnection(aliased, source, 'prod-ro', true).user).toBe('reader');
  });

  it('needs a PostgreSQL session and a PostgreSQL connection that exists', () => {
    expect(() => sandboxConnection(config, source, 'nope', false)).toThrow(/no connection "nope"/);
    expect(() => sandboxConnection(config, source, 'box', false)).toThrow(/not a PostgreSQL connection/);
    expect(() => sandboxConnection(config, { ...source, protocol: 'ssh' }, 'sandbox', false)).toThrow(/only PostgreSQL sessions/);
  });
});
