/**
 * A small POSIX-shell-ish lexer for policy checks: splits a command line into simple commands
 * (on `;`, `&`, `&&`, `||`, `|`, `|&`, newlines and parentheses) made of words with quotes and
 * backslashes removed (`r""m`, `'rm'`, `\rm` and `$'\x72m'` all become `rm`), and collects the
 * text of command substitutions (`$(…)`, backticks, `<(…)`, `>(…)`) so they can be checked too.
 *
 * Best effort, not a shell: no variable, alias, glob or brace expansion, no here-doc bodies
 * (their lines are lexed as commands, which over-matches rather than under-matches).
 */

export interface LexedLine {
  /** Simple commands, each a list of words after quote removal. */
  readonly commands: string[][];
  /** Bodies of command/process substitutions, to be lexed and checked as command lines. */
  readonly substitutions: string[];
}

const SEPARATORS = new Set([';', '&', '|', '(', ')', '\n']);
const BLANKS = new Set([' ', '\t', '\r', '\f', '\v']);

export function lexShellLine(text: string): LexedLine {
  const commands: string[][] = [];
  const substitutions: string[] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;

  const endWord = (): void => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };

  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (BLANKS.has(c)) {
      endWord();
      i++;
    } else if (c === '#' && !inWord) {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '&' && inWord && /[<>]$/.test(word)) {
      word += c; // `2>&1`, `<&3`: a redirection, not a separator
      i++;
    } else if ((c === '<' || c === '>') && text[i + 1] === '(') {
      const end = closingParen(text, i + 2);
      substitutions.push(text.slice(i + 2, end));
      word += text.slice(i, end + 1);
      inWord = true;
      i = end + 1;
    } else if (SEPARATORS.has(c)) {
      endCommand();
      i++;
    } else if (c === '\\') {
      if (text[i + 1] === '\n') {
        i += 2; // line continuation
      } else {
        if (i + 1 < n) word += text[i + 1];
        inWord = true;
        i += 2;
      }
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      const stop = end < 0 ? n : end;
      word += text.slice(i + 1, stop);
      inWord = true;
      i = stop + 1;
    } else if (c === '"') {
      i = readDoubleQuoted(text, i + 1, (s) => (word += s), substitutions);
      inWord = true;
    } else if (c === '$' && text[i + 1] === "'") {
      const [value, next] = readAnsiC(text, i + 2);
      word += value;
      inWord = true;
      i = next;
    } else if (c === '$' && text[i + 1] === '(') {
      const end = closingParen(text, i + 2);
      substitutions.push(text.slice(i + 2, end));
      word += text.slice(i, end + 1);
      inWord = true;
      i = end + 1;
    } else if (c === '`') {
      const end = closingBacktick(text, i + 1);
      substitutions.push(text.slice(i + 1, end));
      word += text.slice(i, end + 1);
      inWord = true;
      i = end + 1;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  endCommand();
  return { commands, substitutions };
}

/** Reads a "…" string starting after the opening quote; returns the index after the closing quote. */
function readDoubleQuoted(text: string, start: number, emit: (s: string) => void, subs: string[]): number {
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === '"') return i + 1;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === '\n') {
        i += 2;
        continue;
      }
      if (next === '$' || next === '`' || next === '"' || next === '\\') {
        emit(next);
        i += 2;
        continue;
      }
      emit(c);
      i++;
      continue;
    }
    if (c === '$' && text[i + 1] === '(') {
      const end = closingParen(text, i + 2);
      subs.push(text.slice(i + 2, end));
      emit(text.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    if (c === '`') {
      const end = closingBacktick(text, i + 1);
      subs.push(text.slice(i + 1, end));
      emit(text.slice(i, end + 1));
      i = end + 1;
      continue;
    }
    emit(c);
    i++;
  }
  return n;
}

const ANSI_ESCAPES: Readonly<Record<string, string>> = {
  n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', e: '\x1b', E: '\x1b', f: '\f', v: '\v', '\\': '\\', "'": "'", '"': '"', '?': '?',
};

/** Reads a $'…' string starting after the opening quote. */
function readAnsiC(text: string, start: number): [string, number] {
  let out = '';
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === "'") return [out, i + 1];
    if (c !== '\\' || i + 1 >= n) {
      out += c;
      i++;
      continue;
    }
    const e = text[i + 1] as string;
    const simple = ANSI_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i += 2;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = /^x([0-9A-Fa-f]{1,2})/.exec(text.slice(i + 1, i + 4)))) {
      out += String.fromCharCode(parseInt(m[1] as string, 16));
      i += 1 + m[0].length;
    } else if ((m = /^u([0-9A-Fa-f]{1,4})/.exec(text.slice(i + 1, i + 6))) || (m = /^U([0-9A-Fa-f]{1,8})/.exec(text.slice(i + 1, i + 10)))) {
      const cp = parseInt(m[1] as string, 16);
      out += cp <= 0x10ffff ? String.fromCodePoint(cp) : '';
      i += 1 + m[0].length;
    } else if ((m = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4)))) {
      out += String.fromCharCode(parseInt(m[0], 8) & 0xff);
      i += 1 + m[0].length;
    } else {
      out += c + e;
      i += 2;
    }
  }
  return [out, n];
}

/** Index of the `)` closing a `(` opened just before `start` (or text.length), skipping quotes. */
function closingParen(text: string, start: number): number {
  let depth = 1;
  let i = start;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      i = end < 0 ? n : end + 1;
      continue;
    }
    if (c === '"') {
      i = readDoubleQuoted(text, i + 1, () => {}, []);
      continue;
    }
    if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
    i++;
  }
  return n;
}

function closingBacktick(text: string, start: number): number {
  let i = start;
  while (i < text.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === '`') return i;
    else i++;
  }
  return text.length;
}
