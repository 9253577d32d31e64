import { describe, expect, it } from 'vitest';
import { LineTracker, type InputPiece } from './line-tracker.ts';

const enters = (pieces: InputPiece[]) => pieces.flatMap((p) => (p.kind === 'enter' ? [{ line: p.line, unknown: p.unknown }] : []));

function typed(...chunks: string[]) {
  const t = new LineTracker();
  const pieces = chunks.flatMap((c) => t.push(Buffer.from(c, 'utf8')));
  return { pieces, enters: enters(pieces), tracker: t };
}

describe('LineTracker', () => {
  it('reports each line at Enter (CR or LF) and passes every byte through in order', () => {
    const input = 'echo hi\rls -l\nexit 3\r';
    const { pieces, enters: e } = typed(input);
    expect(e).toEqual([{ line: 'echo hi', unknown: undefined }, { line: 'ls -l', unknown: undefined }, { line: 'exit 3', unknown: undefined }]);
    expect(Buffer.concat(pieces.map((p) => p.bytes)).toString()).toBe(input);
  });

  it('applies Backspace (DEL and ^H), ^U and ^W, and ^C abandons the line', () => {
    expect(typed('rm -rf /tmpx\x7f\r').enters[0].line).toBe('rm -rf /tmp');
    expect(typed('ab\x08c\r').enters[0].line).toBe('ac');
    expect(typed('garbage\x15ls\r').enters[0].line).toBe('ls');
    expect(typed('sudo rm -rf /\x17\x17\x17echo\r').enters[0].line).toBe('sudo echo');
    expect(typed('rm -rf /\x03ls\r').enters[0].line).toBe('ls');
  });

  it('removes a whole UTF-8 character on Backspace', () => {
    expect(typed('echo héé\x7f\r').enters[0].line).toBe('echo hé');
    expect(typed('echo 🙂\x7fok\r').enters[0].line).toBe('echo ok');
  });

  it('marks a line edited with cursor keys, history or completion as unknown', () => {
    expect(typed('rm -rf x\x1b[D\x1b[D/\r').enters[0]).toMatchObject({ unknown: 'cursor keys' });
    expect(typed('\x1b[A\r').enters[0]).toMatchObject({ unknown: 'cursor keys' });
    expect(typed('\x1bOD\r').enters[0]).toMatchObject({ unknown: 'cursor keys' });
    expect(typed('rm -r\t\r').enters[0]).toMatchObject({ unknown: 'tab completion' });
    expect(typed('ls\x01rm \r').enters[0]).toMatchObject({ unknown: 'line editing keys' });
    expect(typed('ls\x1bb\r').enters[0]).toMatchObject({ unknown: 'Alt-key editing' });
    // …and the next line starts known again.
    expect(typed('\x1b[A\rls\r').enters[1]).toEqual({ line: 'ls', unknown: undefined });
  });

  it('keeps escape sequences split across chunks together', () => {
    expect(typed('ls\x1b', '[', 'D\r').enters[0]).toMatchObject({ unknown: 'cursor keys' });
    expect(typed('ls\x1b[2', '00~ -l\x1b[20', '1~\r').enters[0]).toEqual({ line: 'ls -l', unknown: undefined });
  });

  it('treats bracketed paste as literal text, with one Enter per pasted line', () => {
    const { enters: e } = typed('\x1b[200~echo a\recho b\x1b[201~\r');
    expect(e).toEqual([{ line: 'echo a', unknown: undefined }, { line: 'echo b', unknown: undefined }]);
  });

  it('gives the same lines however the input is split', () => {
    const input = 'echo hé\x7fllo\r\x1b[200~rm -rf /\x1b[201~\rls\x1b[Dx\r';
    const whole = typed(input).enters;
    const bytes = Buffer.from(input, 'utf8');
    for (let i = 0; i <= bytes.length; i++) {
      const t = new LineTracker();
      const pieces = [...t.push(bytes.subarray(0, i)), ...t.push(bytes.subarray(i))];
      expect(enters(pieces)).toEqual(whole);
    }
  });

  it('exposes the line in progress', () => {
    expect(typed('partial').tracker.current).toEqual({ line: 'partial' });
  });
});
