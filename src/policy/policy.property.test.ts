import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../core/identity.ts';
import { expandCommandLine } from './commands/match.ts';
import { compilePolicy } from './compile.ts';
import { classifySql, initSqlParser } from './sql/classify.ts';

beforeAll(async () => {
  await initSqlParser();
});

const sqlish = fc.stringMatching(/^[a-zA-Z0-9 ;'"$()*=,.\-\\/\n_&!U]{0,120}$/);
const keyworded = fc
  .array(fc.constantFrom('SELECT', 'DROP', 'TABLE', 'DELETE', 'FROM', 't', 'WHERE', '1=1', ';', '$$', "'", '"', 'DO', 'WITH', '(', ')', 'AS', 'EXPLAIN', 'ANALYZE', '/*', '*/', '--', '\n'), { maxLength: 30 })
  .map((parts) => parts.join(' '));

function randomCase(s: string, flips: boolean[]): string {
  return [...s].map((c, i) => (flips[i % flips.length] ? c.toUpperCase() : c.toLowerCase())).join('');
}

const alice: Identity = { subject: 'alice', groups: ['dev'], kind: 'user', authMethod: 'oidc' };

describe('properties', () => {
  it('classifySql never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), sqlish, keyworded), (s) => {
        const r = classifySql(s);
        expect(Array.isArray(r.statements)).toBe(true);
        if (r.parseError !== undefined) expect(r.statements).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });

  it('expandCommandLine never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.stringMatching(/^[a-z "'\\$()`;|&<>\n-]{0,100}$/)), (s) => {
        expect(Array.isArray(expandCommandLine(s).commands)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('keyword case and comments never hide a DROP TABLE', () => {
    const pol = compilePolicy({ deny: [{ name: 'no-drop', statements: ['drop_table'] }], review: [] });
    const ws = fc.constantFrom(' ', '\n', '\t', '/**/', ' /* x */ ', ' -- c\n');
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }), ws, ws, fc.constantFrom('', 'SELECT 1;', 'BEGIN;'), (flips, w1, w2, prefix) => {
        const sql = `${prefix}${w1}${randomCase('drop', flips)}${w2}${randomCase('table', flips.slice().reverse())}${w1}t`;
        expect(pol.decide({ protocol: 'postgres', kind: 'query', text: sql }, alice).action).toBe('deny');
      }),
      { numRuns: 500 },
    );
  });

  it('decide never throws and fails closed on garbage', () => {
    const pol = compilePolicy({ deny: [{ name: 'no-drop', statements: ['drop'] }], review: [] });
    fc.assert(
      fc.property(fc.oneof(sqlish, keyworded), (s) => {
        const d = pol.decide({ protocol: 'postgres', kind: 'query', text: s }, alice);
        const c = classifySql(s);
        if (c.parseError !== undefined) expect(d.action).toBe('deny');
      }),
      { numRuns: 1000 },
    );
  });
});
