// Runs in its own module graph (vitest isolates test files): the SQL parser is never loaded here.
import { describe, expect, it } from 'vitest';
import type { Identity } from '../core/identity.ts';
import { compilePolicy } from './compile.ts';
import { classifySql, isSqlParserReady } from './sql/classify.ts';

const who: Identity = { subject: 'a', groups: [], kind: 'user', authMethod: 'token' };

describe('before initSqlParser()', () => {
  it('is not ready', () => {
    expect(isSqlParserReady()).toBe(false);
    expect(() => classifySql('SELECT 1')).toThrow(/initSqlParser/);
  });

  it('refuses to compile SQL rules, with a clear message', () => {
    expect(() => compilePolicy({ deny: [{ name: 'no-drop', statements: ['drop'] }], review: [] })).toThrow(/await initSqlParser\(\)/);
    expect(() => compilePolicy({ deny: [{ name: 'no-drop', statements: ['drop'] }], review: [] }, { protocol: 'postgres' })).toThrow(/initSqlParser/);
  });

  it('does not need the parser for SSH connections or empty policies', () => {
    const ssh = compilePolicy({ deny: [{ name: 'no-reboot', commands: ['reboot'] }], review: [] }, { protocol: 'ssh' });
    expect(ssh.decide({ protocol: 'ssh', kind: 'exec', text: 'sudo reboot' }, who)).toMatchObject({ action: 'deny', rule: 'no-reboot' });
    expect(compilePolicy({ deny: [], review: [] }).decide({ protocol: 'postgres', kind: 'query', text: 'DROP TABLE t' }, who).action).toBe('allow');
  });
});
