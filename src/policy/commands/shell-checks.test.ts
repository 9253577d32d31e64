import { describe, expect, it } from 'vitest';
import type { PolicyConfig } from '../../config/schema.ts';
import type { Identity } from '../../core/identity.ts';
import { compilePolicy } from '../compile.ts';
import type { Command } from '../types.ts';
import { expandCommandLine } from './match.ts';
import { lexShellLine } from './shell-lex.ts';

const alice: Identity = { subject: 'alice', groups: ['ops'], kind: 'user', authMethod: 'ssh-key' };
const agent: Identity = { subject: 'bot', groups: ['agents'], kind: 'service', authMethod: 'token' };
const exec = (text: string, unknown?: string): Command => ({ protocol: 'ssh', kind: 'exec', text, ...(unknown ? { unknown } : {}) });
const policy = (p: Partial<PolicyConfig>): PolicyConfig => ({ deny: [], review: [], ...p } as PolicyConfig);

describe('lexShellLine marks what only the shell knows', () => {
  const dyn = (line: string) => lexShellLine(line).commands.map((c) => c.words.map((w) => w.dynamic));
  it.each<[string, boolean[][]]>([
    ['touch x', [[false, false]]],
    ['t$@ouch x', [[true, false]]],
    ['tou$()ch x', [[true, false]]],
    ['t${unset}ouch x', [[true, false]]],
    ['/usr/bin/tou?h x', [[true, false]]],
    ['{touch,x} y', [[true, false]]],
    ['t[o]uch x', [[true, false]]],
    ['~/bin/x', [[true]]],
    ['echo "$HOME" \'$HOME\'', [[false, true, false]]],
    ['echo $((1+2)) $[3]', [[false, true, true]]],
  ])('%j', (line, expected) => expect(dyn(line)).toEqual(expected));

  it('reads $"…" as a quoted string', () => {
    expect(lexShellLine('$"touch" x').commands[0]?.words.map((w) => w.text)).toEqual(['touch', 'x']);
  });

  it('splits a redirection off the word before it, and knows pipes from ||', () => {
    expect(lexShellLine('echo hi>/etc/x').commands[0]?.words.map((w) => w.text)).toEqual(['echo', 'hi', '>/etc/x']);
    expect(lexShellLine('a | b || c |& d').commands.map((c) => c.piped)).toEqual([false, true, false, true]);
  });

  it.each(["echo 'abc", 'echo "abc', 'echo $(ls', 'echo `ls', 'echo \\', "echo $'x"])('%j is unterminated', (line) => {
    expect(lexShellLine(line).unterminated).toBeDefined();
  });
});

describe('exec checks against a deny rule on touch', () => {
  const pol = compilePolicy(policy({ deny: [{ name: 'no-marker', commands: ['touch /tmp/marker*'] }] }), { protocol: 'ssh' });
  it.each([
    'touch /tmp/marker',
    '$"touch" /tmp/marker',
    't$@ouch /tmp/marker',
    'tou$()ch /tmp/marker',
    't${unset}ouch /tmp/marker',
    '/usr/bin/tou?h /tmp/marker',
    '/usr/bin/{touch,true} /tmp/marker',
    'touch /tmp/mar{ker,x}',
    'touch /tmp/m?rker',
    'f=/tmp/marker; touch "$f"',
    "script -qc 'touch /tmp/marker' /dev/null",
    'script -q -c "touch /tmp/marker" /dev/null',
    'sh <<EOF\ntouch /tmp/marker\nEOF',
    'bash -s <<<"touch /tmp/marker"',
    'echo touch /tmp/marker | sh -s',
    'echo touch /tmp/marker | bash',
    'printf x | sh',
    "sh -c 'touch \"$0\"' /tmp/marker",
    'sh -c "$CMD"',
    'eval "$CMD"',
    'echo /tmp/marker | xargs touch',
    'find /tmp -maxdepth 0 -exec touch /tmp/marker \\;',
    'find /tmp -maxdepth 0 -exec touch {}/marker \\;',
    'sudo --preserve-env=X touch /tmp/marker',
    'sudo -Z touch /tmp/marker',
    'env -i touch /tmp/marker',
    "env -S 'touch /tmp/marker'",
    'nohup touch /tmp/marker',
    "python3 -c 'import os; os.system(\"touch /tmp/marker\")'",
    "perl -e 'system q(touch /tmp/marker)'",
    "trap 'touch /tmp/marker' EXIT",
    "alias ls='touch /tmp/marker'",
    "PROMPT_COMMAND='touch /tmp/marker'",
    "export PS1='$(touch /tmp/marker)'",
    'bind -x \'"\\C-t": touch /tmp/marker\'',
    "echo 'unfinished",
  ])('%j is denied', (line) => {
    expect(pol.decide(exec(line), alice).action).toBe('deny');
  });

  it.each([
    'ls -la /tmp', 'echo $HOME', 'cat /etc/hostname | wc -l', 'sudo -u root ls', 'find /tmp -name x', 'bash ./deploy.sh', 'command -v git',
    'nice -n 5 make', 'timeout -s KILL 5 ls', 'xargs -0 -n1 ls', 'ionice -c3 ls', 'stdbuf -oL ls', "su - root -c 'ls'", 'env -i PATH=/bin ls',
  ])('%j is allowed', (line) => {
    expect(pol.decide(exec(line), alice)).toEqual({ action: 'allow' });
  });

  it('an unknown the adapter reports follows onUnknown', () => {
    expect(pol.decide(exec('ls', 'edited with cursor keys'), alice).action).toBe('deny');
    const lax = compilePolicy(policy({ deny: [{ name: 'no-marker', commands: ['touch *'], onUnknown: 'allow' }] }), { protocol: 'ssh' });
    expect(lax.decide(exec('ls', 'edited with cursor keys'), alice).action).toBe('allow');
    const held = compilePolicy(policy({ review: [{ name: 'r', commands: ['touch *'], approvers: ['leads'] }] }), { protocol: 'ssh' });
    expect(held.decide(exec('ls', 'edited with cursor keys'), alice).action).toBe('review');
  });
});

describe('allow-list (policy.allow with command globs)', () => {
  const pol = compilePolicy(policy({ allow: ['ls *', 'cat /var/log/*', 'uptime', 'grep *'] }), { protocol: 'ssh' });
  it.each(['ls', 'ls -la /tmp', 'cat /var/log/syslog', 'uptime', 'cat /var/log/syslog | grep x', 'ls 2>/dev/null', 'ls $(ls /)', 'grep $x /var/log/syslog'])(
    '%j is allowed',
    (line) => expect(pol.decide(exec(line), agent)).toEqual({ action: 'allow' }),
  );
  it.each([
    'rm -rf /tmp/x', 'cat /etc/shadow', 'cat /var/log/$f', 'cat /var/log/.*/../../etc/shadow', 'cat /var/log/../../etc/shadow', 'cat $f', 'ls; rm x',
    'ls | sh', 'ls $(rm x)', 'ls > /tmp/x', 'cat /var/log/x>/etc/passwd', 'PATH=/tmp ls', '/tmp/evil/ls', 'sudo ls', 'uptime && touch x',
    "ls 'unfinished", '$x', 'ls `rm x`',
  ])('%j is denied', (line) => {
    expect(pol.decide(exec(line), agent)).toMatchObject({ action: 'deny', rule: 'allow-list' });
  });
  it('says it lists commands, and can send the rest to review', () => {
    expect(pol.listsCommands(agent)).toBe(true);
    expect(compilePolicy(policy({ deny: [{ name: 'x', commands: ['rm *'] }] }), { protocol: 'ssh' }).listsCommands(agent)).toBe(false);
    const reviewed = compilePolicy(policy({ allow: ['ls *'], otherwise: 'review', approvers: ['leads'] }), { protocol: 'ssh' });
    expect(reviewed.decide(exec('rm x'), alice)).toMatchObject({ action: 'review', rule: 'allow-list', approvers: ['leads'] });
  });
  it('a typed line the adapter could not see exactly is not allowed', () => {
    expect(pol.decide(exec('ls', 'edited with cursor keys'), agent).action).toBe('deny');
  });
});

describe('expandCommandLine', () => {
  it('says why a line is incomplete', () => {
    expect(expandCommandLine('t$@ouch x').incomplete).toMatch(/command name/);
    expect(expandCommandLine('echo x | sh').incomplete).toMatch(/reads commands from a pipe/);
    expect(expandCommandLine('sh').incomplete).toBeUndefined();
  });
});
