import { describe, expect, it } from 'vitest';
import { LineTracker, type InputPiece } from './line-tracker.ts';

const enters = (pieces: InputPiece[]) => pieces.flatMap((p) => (p.kind === 'enter' && !p.checkpoint ? [{ line: p.line, unknown: p.unknown }] : []));
const checkpoints = (pieces: InputPiece[]) => pieces.flatMap((p) => (p.kind === 'enter' && p.checkpoint ? [{ line: p.line, key: p.bytes.toString('latin1') }] : []));

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
    expect(typed('ls\x1bb\r').enters[0]).toMatchObject({ unknown: 'a key that can run or change the line' });
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

  it('reports keys that can run a line without Enter as checkpoints, before they pass', () => {
    // ^O operate-and-get-next, ^X (^X^E edit-and-execute), Alt/Esc keys (vi command mode), a malformed sequence.
    for (const key of ['\x0f', '\x18', '\x1bv', '\x1b\x0a', '\x1d', '\x1b[2\x01']) {
      const { pieces } = typed(`touch /tmp/x${key}`);
      expect(checkpoints(pieces)).toEqual([{ line: 'touch /tmp/x', key: key.slice(-1) }]);
      const before = pieces.findIndex((p) => p.kind === 'enter');
      expect(Buffer.concat(pieces.slice(0, before).map((p) => p.bytes)).toString('latin1')).toBe(`touch /tmp/x${key.slice(0, -1)}`);
    }
  });

  it('keeps text abandoned by ^C for the next line (the editor keeps it if intr is not ^C)', () => {
    const { pieces } = typed('touch /tmp/mar\x03ker\r');
    expect(pieces.find((p) => p.kind === 'enter')).toMatchObject({ line: 'ker', abandoned: 'touch /tmp/mar' });
  });

  it('takes pasted control characters as unknown, not as editing, and shows the keys', () => {
    const { pieces } = typed('\x1b[200~rm -rf /\x15echo hi\x1b[201~\r');
    expect(pieces.find((p) => p.kind === 'enter')).toMatchObject({ unknown: 'control characters in pasted text', keys: '\\e[200~rm -rf /^Uecho hi\\e[201~\\r' });
    expect(typed('echo \u202ehi\r').enters[0]).toMatchObject({ unknown: 'invisible or reordering characters' });
  });

  it('stays in a paste across a pasted newline, and bounds text abandoned by ^C', () => {
    const { enters: e } = typed('\x1b[200~echo a\r\x15touch x\x1b[201~\r');
    expect(e[1]).toMatchObject({ unknown: 'control characters in pasted text' });
    const many = typed(`${'x'.repeat(1000)}\x03`.repeat(40), 'ls\r');
    const enter = many.pieces.find((p) => p.kind === 'enter');
    expect(enter).toMatchObject({ line: 'ls', unknown: 'line too long' });
    expect(enter?.kind === 'enter' && enter.abandoned?.length).toBe(16 * 1024);
  });

  it('exposes the line in progress', () => {
    expect(typed('partial').tracker.current).toEqual({ line: 'partial' });
  });
});
