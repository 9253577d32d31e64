import { beforeAll, describe, expect, it } from 'vitest';
import type { PolicyConfig } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import { compilePolicy } from './compile.ts';
import { initSqlParser } from './sql/classify.ts';
import type { Command, ConnectionPolicy } from './types.ts';

beforeAll(async () => {
  await initSqlParser();
});

const alice: Identity = { subject: 'alice', groups: ['dev'], kind: 'user', authMethod: 'oidc' };
const dba: Identity = { subject: 'dana', groups: ['dba'], kind: 'user', authMethod: 'oidc' };
const robot: Identity = { subject: 'etl', groups: ['etl'], kind: 'service', authMethod: 'token' };

const q = (text: string): Command => ({ protocol: 'postgres', kind: 'query', text });
const sh = (text: string): Command => ({ protocol: 'ssh', kind: 'exec', text });

function policy(p: Partial<PolicyConfig>): PolicyConfig {
  return { deny: [], review: [], ...p };
}

describe('guard rails (deny drop_table, truncate, delete_without_where)', () => {
  let pol: ConnectionPolicy;
  beforeAll(() => {
    pol = compilePolicy(policy({ deny: [{ name: 'no-footguns', statements: ['drop_table', 'truncate', 'delete_without_where'] }] }), {
      protocol: 'postgres',
    });
  });

  const bypasses = [
    'DROP TABLE t',
    'dRoP tAbLe t',
    'DROP/**/TABLE t',
    '-- x\nDROP TABLE t',
    '/* DROP */ DrOp /* nested /* comment */ */ TABLE t',
    'select 1; drop table t',
    'select 1;drop table t;',
    'DROP TABLE "Users"',
    'DROP TABLE public."T"',
    'DROP TABLE U&"\\0074"',
    'DROP TABLE U&"!0074" UESCAPE \'!\'',
    "DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$",
    "DO $body$ BEGIN EXECUTE 'DR' || 'OP TABLE t'; END $body$",
    'DO $$ BEGIN DROP TABLE t; END $$',
    'EXPLAIN ANALYZE DELETE FROM t',
    'EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t',
    'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
    'WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING 1) SELECT * FROM a',
    'PREPARE x AS DELETE FROM t; EXECUTE x',
    'PREPARE x AS DELETE FROM t',
    'EXECUTE x',
    'DELETE FROM t',
    'DELETE FROM t WHERE true',
    'DELETE FROM t WHERE 1=1',
    'TRUNCATE t',
    'TRUNCATE TABLE ONLY t RESTART IDENTITY',
    "SELECT $q$ harmless $q$; DROP TABLE t",
    "SELECT $$ it's fine $$; DROP TABLE t; SELECT $$ done $$",
    'CREATE RULE r AS ON SELECT TO v DO INSTEAD DELETE FROM t',
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DROP TABLE t'",
    'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN TRUNCATE t; END $$',
    "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'TRUNCATE t'; END $$",
    'CALL cleanup()',
    // standard_conforming_strings off (any session can SET it) reads backslashes in '…' as escapes
    "SELECT 'a\\', $$' ; DROP TABLE t; -- $$",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'SELECT 1\\073 DROP TABLE t'",
    'DROP TABEL t', // unparseable: denied by default
    'SELECT 1; DROP TABLE t WHERE', // any parse error denies the whole string
  ];

  it.each(bypasses)('denies %j', (sql) => {
    const d = pol.decide(q(sql), alice);
    expect(d.action).toBe('deny');
    if (d.action === 'deny') expect(d.rule).toBe('no-footguns');
  });

  const legit = [
    "SELECT 'drop table t' AS note",
    'SELECT "drop table" FROM t',
    'SELECT * FROM drops',
    'DELETE FROM t WHERE id = 1',
    'UPDATE t SET a = 1',
    'EXPLAIN DELETE FROM t',
    'DROP VIEW v',
    'INSERT INTO audit (msg) VALUES ($$DROP TABLE t$$)',
    "SELECT $q$ '; DROP TABLE t; -- $q$",
    'PREPARE p AS SELECT 1; EXECUTE p',
    "SELECT 'C:\\dir\\file', E'\\n'",
    '',
  ];
  it.each(legit)('allows %j', (sql) => {
    expect(pol.decide(q(sql), alice)).toEqual({ action: 'allow' });
  });

  it('gives a readable reason', () => {
    expect(pol.decide(q('DROP TABLE t'), alice)).toEqual({
      action: 'deny',
      rule: 'no-footguns',
      reason: 'statement "DROP TABLE" is blocked by rule no-footguns',
    });
    const d = pol.decide(q("DO $$ BEGIN EXECUTE 'x'; END $$"), alice);
    expect(d.action === 'deny' && d.reason).toMatch(/^DO block in .* cannot be checked, so it is blocked by rule no-footguns$/);
    const e = pol.decide(q('DELETE FROM t'), alice);
    expect(e.action === 'deny' && e.reason).toBe('statement "DELETE without WHERE" is blocked by rule no-footguns');
  });
});

describe('rule scoping and review', () => {
  it('applies a rule only to its groups and kinds', () => {
    const pol = compilePolicy(
      policy({
        deny: [
          { name: 'devs-no-drop', statements: ['drop'], groups: ['dev'] },
          { name: 'services-read-only', statements: ['write', 'ddl'], kinds: ['service'] },
        ],
      }),
    );
    expect(pol.decide(q('DROP TABLE t'), alice).action).toBe('deny');
    expect(pol.decide(q('DROP TABLE t'), dba).action).toBe('allow');
    expect(pol.decide(q('INSERT INTO t VALUES (1)'), robot)).toMatchObject({ action: 'deny', rule: 'services-read-only' });
    expect(pol.decide(q('COPY t FROM STDIN'), robot)).toMatchObject({ action: 'deny' });
    expect(pol.decide(q('COPY t TO STDOUT'), robot).action).toBe('allow');
    expect(pol.decide(q('INSERT INTO t VALUES (1)'), alice).action).toBe('allow');
    // unknown statements only count against rules that apply to the identity
    expect(pol.decide(q('DO $$ BEGIN END $$'), dba).action).toBe('allow');
    expect(pol.decide(q('DO $$ BEGIN END $$'), alice).action).toBe('deny');
  });

  it('holds matching statements for review with the rule approvers', () => {
    const pol = compilePolicy(
      policy({
        deny: [{ name: 'no-drop', statements: ['drop'] }],
        review: [
          { name: 'pii', tables: ['public.salaries'], approvers: ['hr-leads'] },
          { name: 'bulk-writes', statements: ['update_without_where', 'delete_without_where'], approvers: ['dba'] },
        ],
      }),
    );
    expect(pol.decide(q('SELECT * FROM salaries'), alice)).toEqual({
      action: 'review',
      rule: 'pii',
      approvers: ['hr-leads'],
      reason: 'statement "SELECT" on table "salaries" needs review under rule pii',
    });
    expect(pol.decide(q('select * from PUBLIC.Salaries'), alice)).toMatchObject({ action: 'review', rule: 'pii' });
    expect(pol.decide(q('select * from other.salaries'), alice).action).toBe('allow');
    expect(pol.decide(q('UPDATE t SET a = 1'), alice)).toMatchObject({ action: 'review', rule: 'bulk-writes', approvers: ['dba'] });
    // deny wins over review, whatever the order in the text
    expect(pol.decide(q('SELECT * FROM salaries; DROP TABLE x'), alice)).toMatchObject({ action: 'deny', rule: 'no-drop' });
  });

  it('honours onUnknown', () => {
    const lenient = compilePolicy(
      policy({
        deny: [{ name: 'no-drop', statements: ['drop'], onUnknown: 'review', approvers: ['dba'] }],
        review: [{ name: 'writes', statements: ['write'], onUnknown: 'allow' }],
      }),
    );
    expect(lenient.decide(q('CALL p()'), alice)).toMatchObject({ action: 'review', rule: 'no-drop', approvers: ['dba'] });
    // statements visible inside a DO block still match the rule itself
    expect(lenient.decide(q('DO $$ BEGIN DROP TABLE t; END $$'), alice)).toMatchObject({ action: 'deny', rule: 'no-drop' });

    const allowUnknown = compilePolicy(policy({ deny: [{ name: 'no-drop', statements: ['drop'], onUnknown: 'allow' }] }));
    expect(allowUnknown.decide(q('DO $$ BEGIN PERFORM 1; END $$'), alice).action).toBe('allow');
    expect(allowUnknown.decide(q('not sql at all'), alice).action).toBe('allow');

    const reviewOnly = compilePolicy(policy({ review: [{ name: 'all-writes', statements: ['write'], approvers: ['a'] }] }));
    expect(reviewOnly.decide(q('not sql'), alice)).toMatchObject({ action: 'review', rule: 'all-writes' });
    const reviewDenies = compilePolicy(policy({ review: [{ name: 'r', statements: ['write'], onUnknown: 'deny' }] }));
    expect(reviewDenies.decide(q('EXECUTE x'), alice)).toMatchObject({ action: 'deny', rule: 'r' });
  });

  it('treats a rule without criteria as matching everything', () => {
    const pol = compilePolicy(policy({ review: [{ name: 'contractors', groups: ['contractor'], approvers: ['lead'] }] }));
    const bob: Identity = { subject: 'bob', groups: ['contractor'], kind: 'user', authMethod: 'oidc' };
    expect(pol.decide(q('SELECT 1'), bob)).toMatchObject({ action: 'review', rule: 'contractors', approvers: ['lead'] });
    expect(pol.decide(q('SELECT 1'), alice).action).toBe('allow');
  });

  it('matches RE2 patterns on the raw text', () => {
    const pol = compilePolicy(policy({ deny: [{ name: 'no-pg-read', patterns: ['(?i)pg_read_(binary_)?file'] }] }));
    expect(pol.decide(q("SELECT PG_READ_FILE('/etc/passwd')"), alice)).toMatchObject({ action: 'deny', rule: 'no-pg-read' });
    expect(pol.decide(q('SELECT 1'), alice).action).toBe('allow');
  });
});

describe('shell commands', () => {
  const pol = (): ConnectionPolicy =>
    compilePolicy(
      policy({
        deny: [{ name: 'no-rm-root', commands: ['rm -rf /', 'mkfs*', 'shutdown', 'reboot'] }],
        review: [{ name: 'restarts', commands: ['systemctl restart *'], approvers: ['ops'] }],
      }),
      { protocol: 'ssh' },
    );

  it.each([
    'rm -rf /',
    'rm   -rf   /',
    'r""m -rf /',
    "'rm' -rf /",
    '\\rm -rf /',
    '/bin/rm -rf / --no-preserve-root',
    'ls; rm -rf /',
    'true && rm -rf /',
    'false || rm -rf /',
    'echo | rm -rf /',
    "sh -c 'rm -rf /'",
    'bash -lc "cd /tmp && rm -rf /"',
    'sudo rm -rf /',
    'sudo -u root -- env X=y nohup rm -rf /',
    'FOO=1 rm -rf /',
    'echo $(rm -rf /)',
    "eval 'rm -rf /'",
    "sudo su - -c 'shutdown -h now'",
    'mkfs.ext4 /dev/sda1',
    'reboot',
  ])('denies %j', (line) => {
    expect(pol().decide(sh(line), alice)).toMatchObject({ action: 'deny', rule: 'no-rm-root' });
  });

  it.each(['rm -rf /tmp/build', 'ls -la /', 'echo "rm -rf /"', 'echo rm -rf /', 'grep reboot /var/log/syslog'])('allows %j', (line) => {
    expect(pol().decide(sh(line), alice).action).toBe('allow');
  });

  it('reviews globbed commands', () => {
    expect(pol().decide(sh('sudo systemctl restart nginx'), alice)).toMatchObject({ action: 'review', rule: 'restarts', approvers: ['ops'] });
    expect(pol().decide({ protocol: 'ssh', kind: 'shell-line', text: 'systemctl restart  postgresql --now' }, alice).action).toBe('review');
    expect(pol().decide(sh('systemctl status nginx'), alice).action).toBe('allow');
  });

  it('does not apply command globs to SQL or SQL criteria to shell lines', () => {
    const mixed = compilePolicy(policy({ deny: [{ name: 'm', commands: ['reboot'], statements: ['drop'] }] }));
    expect(mixed.decide(q('SELECT reboot()'), alice).action).toBe('allow');
    expect(mixed.decide(sh('drop table t'), alice).action).toBe('allow');
    expect(mixed.decide(sh('reboot'), alice).action).toBe('deny');
    expect(mixed.decide(q('DROP TABLE t'), alice).action).toBe('deny');
  });
});

describe('compile-time validation', () => {
  it('rejects unknown statement names, naming the rule', () => {
    expect(() => compilePolicy(policy({ deny: [{ name: 'oops', statements: ['drop_tables'] }] }))).toThrow(/policy rule "oops": unknown statement "drop_tables"/);
  });
  it('accepts aliases and loose spelling', () => {
    expect(() => compilePolicy(policy({ deny: [{ name: 'ok', statements: ['DROP TABLE', 'delete-without-where', 'ddl', 'write', 'any'] }] }))).not.toThrow();
  });
  it('rejects bad regexes, naming the rule', () => {
    expect(() => compilePolicy(policy({ review: [{ name: 'bad-re', patterns: ['(unclosed'] }] }))).toThrow(/policy rule "bad-re": bad regex/);
    expect(() => compilePolicy(policy({ review: [{ name: 'lookahead', patterns: ['(?=x)'] }] }))).toThrow(/lookahead/);
  });
  it('rejects duplicate rule names and criteria that cannot apply to the protocol', () => {
    expect(() => compilePolicy(policy({ deny: [{ name: 'a', statements: ['drop'] }], review: [{ name: 'a', statements: ['write'] }] }))).toThrow(/duplicate/);
    expect(() => compilePolicy(policy({ deny: [{ name: 's', statements: ['drop'] }] }), { protocol: 'ssh' })).toThrow(/policy rule "s"/);
    expect(() => compilePolicy(policy({ deny: [{ name: 'c', commands: ['reboot'] }] }), { protocol: 'postgres' })).toThrow(/policy rule "c"/);
  });
  it('returns an allow-all policy for an empty rule set', () => {
    expect(compilePolicy(policy({})).decide(q('DROP TABLE t'), alice)).toEqual({ action: 'allow' });
  });
});
