import { afterAll, describe, expect, it } from 'vitest';
import { ParserPool } from './parser-pool.ts';

const pools: ParserPool[] = [];
afterAll(() => pools.forEach((p) => p.close()));

function pool(options: ConstructorParameters<typeof ParserPool>[0]): ParserPool {
  const p = new ParserPool(options);
  pools.push(p);
  return p;
}

describe('ParserPool', () => {
  it('classifies in a child process', async () => {
    const r = await pool({}).classify('SELECT 1; DROP TABLE victim');
    expect(r.statements.map((s) => s.kind)).toEqual(['select', 'drop_table']);
  }, 60_000);

  it('a statement that exhausts the process is unknown, and the next one is classified by a fresh process', async () => {
    const p = pool({ heapMb: 16 });
    const r = await p.classify('SELECT 1;'.repeat(200_000));
    expect(r.statements).toEqual([]);
    expect(r.parseError).toBe('the SQL parser ran out of memory on this statement');
    const next = await p.classify('DROP TABLE victim');
    expect(next.statements[0]?.kind).toBe('drop_table');
  }, 60_000);

  it('a statement past the deadline is unknown, and the process is replaced', async () => {
    const p = pool({ deadlineMs: 2000, heapMb: 2048 });
    await p.classify('SELECT 1'); // started and warm
    const r = await p.classify('SELECT 1;'.repeat(250_000)); // about 10 s of work
    expect(r.parseError).toBe('statement took longer than 2 s to check');
    expect((await p.classify('TRUNCATE victim')).statements[0]?.kind).toBe('truncate');
  }, 60_000);
});
