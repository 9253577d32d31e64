import { describe, expect, it } from 'vitest';
import { TerminalFilter, terminalSafe } from './terminal-filter.ts';
import { visibleKeys } from './visible.ts';

const filtered = (...chunks: string[]) => {
  const f = new TerminalFilter();
  return chunks.map((c) => f.push(Buffer.from(c, 'utf8'))).join('') + f.end();
};

describe('TerminalFilter', () => {
  it('passes text, line controls, colours and moves along the line', () => {
    const safe = 'ok\r\n\tcol\b\x1b[1;31mred\x1b[0m\x1b[K\x1b[3C\x1b[2D\x1b[5G';
    expect(filtered(safe)).toBe(safe);
  });

  it('shows everything else instead of obeying it: clear, cursor up, OSC 52, title, DCS, screens, resets', () => {
    expect(filtered('\x1b[2J\x1b[H')).toBe('\\e[2J\\e[H');
    expect(filtered('\x1b[1A\x1b[2KDENIED')).toBe('\\e[1A\x1b[2KDENIED');
    expect(filtered('\x1b]52;c;aGVsbG8=\x07')).toBe('\\e]52;c;aGVsbG8=^G');
    expect(filtered('\x1b]0;title\x1b\\x')).toBe('\\e]0;title\\e\\\\x');
    expect(filtered('\x1bP+q\x1b\\')).toBe('\\eP+q\\e\\\\');
    expect(filtered('\x1b[?1049h\x1bc\x1b7\x1b8')).toBe('\\e[?1049h\\ec\\e7\\e8');
    expect(filtered('\u009b2J \u202eevil')).toBe('\\u{9b}2J \\u{202e}evil');
  });

  it('keeps a sequence split across chunks together, and shows an unfinished one at the end', () => {
    expect(filtered('a\x1b', '[2', 'J', 'b')).toBe('a\\e[2Jb');
    expect(filtered('a\x1b', '[3', '1m')).toBe('a\x1b[31m');
    expect(filtered('x\x1b]52;c;')).toBe('x\\e]52;c;');
  });

  it('bounds what it holds', () => {
    const out = filtered(`\x1b]0;${'x'.repeat(10_000)}`);
    expect(out.startsWith('\\e]0;xxx')).toBe(true);
    expect(out).not.toContain('\x1b');
  });
});

describe('terminalSafe and visibleKeys', () => {
  it('leave no control character, and show newlines so no line can be forged', () => {
    expect(terminalSafe('select 1;\n  +0.1s #9 DENIED\x1b[2J')).toBe('select 1;\\n  +0.1s #9 DENIED\\e[2J');
    expect(visibleKeys('a\\e\x1b\x15')).toBe('a\\\\e\\e^U');
  });
});
