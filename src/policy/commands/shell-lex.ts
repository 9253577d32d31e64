/**
 * A small POSIX-shell-ish lexer for policy checks: splits a command line into simple commands
 * (on `;`, `&`, `&&`, `||`, `|`, `|&`, newlines and parentheses) made of words with quotes and
 * backslashes removed (`r""m`, `'rm'`, `\rm` and `$'\x72m'` all become `rm`), and collects the
 * text of command substitutions (`$(…)`, backticks, `<(…)`, `>(…)`) so they can be checked too.
 *
 * Not a shell: it expands nothing. A word whose value only the shell can know — it holds a parameter
 * expansion (`$x`, `${x}`, `$@`), a command or arithmetic substitution, an unquoted glob (`*`, `?`,
 * `[`), brace expansion (`{a,b}`, `{1..3}`), an extglob or a leading `~` — is marked `dynamic`, so
 * the caller can treat what it cannot resolve as unknown. Here-doc bodies are lexed as commands
 * (which over-matches rather than under-matches). A line that ends inside a quote, a substitution or
 * after a backslash is marked `unterminated`: the shell would read on, and the rest is unseen.
 */

export interface Word {
  /** The word after quote removal. */
  readonly text: string;
  /** The shell expands it: its value is only known when the command runs. */
  readonly dynamic: boolean;
}

export interface SimpleCommand {
  readonly words: readonly Word[];
  /** Its standard input comes from the previous command of a pipeline (`… | sh`). */
  readonly piped: boolean;
}

export interface LexedLine {
  /** Simple commands, each a list of words after quote removal. */
  readonly commands: SimpleCommand[];
  /** Bodies of command/process substitutions, to be lexed and checked as command lines. */
  readonly substitutions: string[];
  /** Set when the text ends inside a quote, a substitution or a line continuation. */
  readonly unterminated?: string;
}

const SEPARATORS = new Set([';', '&', '|', '(', ')', '\n']);
const BLANKS = new Set([' ', '\t', '\r', '\f', '\v']);
const GLOB = new Set(['*', '?', '[']);
const EXTGLOB = new Set(['?', '*', '+', '@', '!']);
/** `$` followed by one of these starts an expansion (`$x`, `${x}`, `$1`, `$@`, `$$`…). */
const PARAM_START = /^[A-Za-z0-9_{@*#?$!-]/;

export function lexShellLine(text: string): LexedLine {
  const commands: SimpleCommand[] = [];
  const substitutions: string[] = [];
  let unterminated: string | undefined;
  let words: Word[] = [];
  let word = '';
  let inWord = false;
  let dynamic = false;
  let piped = false;
  let nextPiped = false;

  const endWord = (): void => {
    if (inWord) words.push({ text: word, dynamic: dynamic || braceExpands(word) });
    word = '';
    inWord = false;
    dynamic = false;
  };
  const endCommand = (): void => {
    endWord();
    if (words.length > 0) commands.push({ words, piped });
    words = [];
    piped = nextPiped;
    nextPiped = false;
  };
  const substitution = (start: number, bodyStart: number): number => {
    const end = closingParen(text, bodyStart);
    if (end >= text.length) unterminated ??= 'an unclosed substitution';
    substitutions.push(text.slice(bodyStart, end));
    word += text.slice(start, end + 1);
    inWord = true;
    dynamic = true;
    return end + 1;
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
    } else if ((c === '&' || c === '|') && inWord && /[<>]$/.test(word)) {
      word += c; // `2>&1`, `<&3`, `>|`: a redirection, not a separator
      i++;
    } else if ((c === '<' || c === '>') && text[i + 1] === '(') {
      i = substitution(i, i + 2);
    } else if (c === '(' && inWord && EXTGLOB.has(word[word.length - 1] as string)) {
      i = substitution(i, i + 1); // extglob `@(a|b)`, `!(x)`: the shell matches it against files
    } else if (c === '|') {
      // `|` and `|&` feed the next command; `||` does not.
      const double = text[i + 1] === '|';
      endCommand();
      piped = !double;
      i += double || text[i + 1] === '&' ? 2 : 1;
    } else if (SEPARATORS.has(c)) {
      endCommand();
      i++;
    } else if (c === '\\') {
      if (i + 1 >= n) unterminated ??= 'a trailing backslash';
      if (text[i + 1] === '\n') {
        i += 2; // line continuation
      } else {
        if (i + 1 < n) word += text[i + 1];
        inWord = true;
        i += 2;
      }
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) unterminated ??= 'an unclosed quote';
      const stop = end < 0 ? n : end;
      word += text.slice(i + 1, stop);
      inWord = true;
      i = stop + 1;
    } else if (c === '"' || (c === '$' && text[i + 1] === '"')) {
      // `$"…"` is a translated string: without a message catalogue, the same as "…".
      const r = readDoubleQuoted(text, i + (c === '$' ? 2 : 1), (s) => (word += s), substitutions);
      if (r.end < 0) unterminated ??= 'an unclosed quote';
      dynamic ||= r.dynamic;
      inWord = true;
      i = r.end < 0 ? n : r.end;
    } else if (c === '$' && text[i + 1] === "'") {
      const [value, next] = readAnsiC(text, i + 2);
      if (next > n) unterminated ??= 'an unclosed quote';
      word += value;
      inWord = true;
      i = Math.min(next, n);
    } else if (c === '$' && text[i + 1] === '(') {
      i = substitution(i, i + 2);
    } else if (c === '$' && text[i + 1] === '[') {
      const end = text.indexOf(']', i + 2); // old arithmetic `$[1+1]`
      word += text.slice(i, end < 0 ? n : end + 1);
      inWord = true;
      dynamic = true;
      i = end < 0 ? n : end + 1;
    } else if (c === '`') {
      const end = closingBacktick(text, i + 1);
      if (end >= n) unterminated ??= 'an unclosed backtick';
      substitutions.push(text.slice(i + 1, end));
      word += text.slice(i, end + 1);
      inWord = true;
      dynamic = true;
      i = end + 1;
    } else {
      // `echo x>f`: an unquoted redirection starts a word of its own (after an fd number: `2>f`).
      if ((c === '<' || c === '>') && inWord && !/^(?:\d+|[<>]+|&)$/.test(word)) endWord();
      if (c === '$' && PARAM_START.test(text[i + 1] ?? '')) dynamic = true;
      if (GLOB.has(c) || (c === '~' && !inWord)) dynamic = true;
      word += c;
      inWord = true;
      i++;
    }
  }
  endCommand();
  return unterminated ? { commands, substitutions, unterminated } : { commands, substitutions };
}

/** Unquoted brace expansion: `{a,b}` or `{1..3}` (the quotes are gone by now, so this over-matches). */
function braceExpands(word: string): boolean {
  return /\{[^{}]*(,|\.\.)[^{}]*\}/.test(word);
}

/**
 * Reads a "…" string starting after the opening quote; `end` is the index after the closing quote,
 * or -1 when there is none. `dynamic` when it holds an expansion.
 */
function readDoubleQuoted(text: string, start: number, emit: (s: string) => void, subs: string[]): { end: number; dynamic: boolean } {
  let i = start;
  let dynamic = false;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (c === '"') return { end: i + 1, dynamic };
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
      dynamic = true;
      i = end + 1;
      continue;
    }
    if (c === '`') {
      const end = closingBacktick(text, i + 1);
      subs.push(text.slice(i + 1, end));
      emit(text.slice(i, end + 1));
      dynamic = true;
      i = end + 1;
      continue;
    }
    if (c === '$' && PARAM_START.test(text[i + 1] ?? '')) dynamic = true;
    emit(c);
    i++;
  }
  return { end: -1, dynamic };
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
  return [out, n + 1]; // unclosed
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
      const end = readDoubleQuoted(text, i + 1, () => {}, []).end;
      i = end < 0 ? n : end;
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
