import { describe, expect, it } from 'vitest';
import { compileCommandPattern, compileCommandRegex, expandCommandLine } from './match.ts';

const commands = (line: string): readonly string[] => expandCommandLine(line).commands;

describe('expandCommandLine', () => {
  it.each<[string, string[]]>([
    ['ls  -la\t/tmp', ['ls -la /tmp']],
    ['r""m -rf /', ['rm -rf /']],
    ["'r'm -rf /", ['rm -rf /']],
    ['\\r\\m -rf /', ['rm -rf /']],
    ["$'\\x72\\155' -rf /", ['rm -rf /']],
    ['/usr/bin/rm -rf /', ['/usr/bin/rm -rf /', 'rm -rf /']],
    ['a; b && c || d | e & f', ['a', 'b', 'c', 'd', 'e', 'f']],
    ['a\nb', ['a', 'b']],
    ['(cd / && rm -rf *)', ['cd /', 'rm -rf *']],
    ['if true; then reboot; fi', ['true', 'reboot']],
    ['X=1 Y=2 make', ['make']],
    ['> /dev/null 2>&1 reboot', ['reboot']],
    ['cmd 2>&1 | tee log', ['cmd 2>&1', 'tee log']],
    ['echo hi # ; reboot', ['echo hi']],
    ['echo `reboot`', ['echo `reboot`', 'reboot']],
    ['diff <(ls a) <(ls b)', ['diff <(ls a) <(ls b)', 'ls a', 'ls b']],
    ['echo "$(reboot)"', ['echo $(reboot)', 'reboot']],
    ["sh -c 'reboot'", ['sh -c reboot', 'reboot']],
    ["bash -o pipefail -ec 'a | b'", ['bash -o pipefail -ec a | b', 'a', 'b']],
    ['bash script.sh', ['bash script.sh']],
    ['sudo -u root -H reboot', ['sudo -u root -H reboot', 'reboot']],
    ['sudo -- reboot', ['sudo -- reboot', 'reboot']],
    ['env -i PATH=/bin reboot', ['env -i PATH=/bin reboot', 'reboot']],
    ["env -S 'reboot now'", ['env -S reboot now', 'reboot now']],
    ['nice -n 10 ionice -c 3 reboot', ['nice -n 10 ionice -c 3 reboot', 'ionice -c 3 reboot', 'reboot']],
    ['timeout 5s reboot', ['timeout 5s reboot', 'reboot']],
    ['time -p reboot', ['time -p reboot', 'reboot']],
    ['{ rm -rf /; }', ['rm -rf /']],
    ['find . -name x | xargs -I{} rm {}', ['find . -name x', 'xargs -I{} rm {}', 'rm {}']],
    ["su -c 'reboot' root", ['su -c reboot root', 'reboot']],
    ["eval 'a;' b", ['eval a; b', 'a', 'b']],
  ])('%j', (line, expected) => {
    expect(commands(line)).toEqual(expected);
  });

  it('bounds nesting', () => {
    let line = 'reboot';
    for (let i = 0; i < 12; i++) line = `sh -c ${JSON.stringify(line)}`;
    const r = expandCommandLine(line);
    expect(r.incomplete).toMatch(/nested/);
  });
});

describe('compileCommandPattern', () => {
  const matches = (pattern: string, line: string): boolean => compileCommandPattern(pattern).match(expandCommandLine(line)) !== undefined;

  it.each<[string, string, boolean]>([
    ['rm -rf /', 'rm -rf /', true],
    ['rm -rf /', 'rm -rf / --no-preserve-root', true],
    ['rm -rf /', 'rm -rf /tmp', false],
    ['rm -rf /', 'rm -rf', false],
    ['rm  -rf  / ', 'rm -rf /', true],
    ['/bin/rm -rf /', 'rm -rf /', true],
    ['systemctl restart *', 'systemctl restart nginx', true],
    ['systemctl restart *', 'systemctl restart', false],
    ['systemctl restart *', 'systemctl status nginx', false],
    ['systemctl ??art nginx', 'systemctl start nginx', true],
    ['kill -9 *', 'kill -9 1 2 3', true],
    ['echo \\*', 'echo *', true],
    ['echo \\*', 'echo x', false],
    ['psql', 'psql -c "drop table t"', true],
    ['psq', 'psql', false],
    ['a.b', 'axb', false],
  ])('%j vs %j → %s', (pattern, line, expected) => {
    expect(matches(pattern, line)).toBe(expected);
  });

  it('rejects an empty pattern', () => {
    expect(() => compileCommandPattern('   ')).toThrow(/empty/);
  });

  it('is linear-time on adversarial input', () => {
    const m = compileCommandPattern('*a*a*a*a*a*a*a*a*b');
    const line = expandCommandLine('a'.repeat(50_000));
    const t = Date.now();
    expect(m.match(line)).toBeUndefined();
    expect(Date.now() - t).toBeLessThan(1000);
  });
});

describe('compileCommandRegex', () => {
  it('tests the raw line and each normalised command', () => {
    const m = compileCommandRegex('^rm\\s+-[a-z]*r');
    expect(m.match(expandCommandLine('ls; r""m -fr /'))).toBe('rm -fr /');
    expect(m.match(expandCommandLine('ls'))).toBeUndefined();
    expect(compileCommandRegex('curl .*\\| *sh').match(expandCommandLine('curl x | sh'))).toBe('curl x | sh');
  });
  it('throws on unsupported syntax', () => {
    expect(() => compileCommandRegex('(a)\\1')).toThrow();
  });
});
