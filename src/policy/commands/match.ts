/**
 * Command matching for shell-like protocols (SSH exec requests, lines typed in an interactive shell).
 *
 * BEST EFFORT. A shell is a programming language; a string matcher cannot decide what a line will
 * do (`a=rm; $a -rf /`, `$(printf 'r\x6d') -rf /`, aliases, scripts on disk, `find / -delete` all
 * get past a `rm -rf /` pattern). What it does, so that the obvious and the lazily disguised are caught:
 *
 * - Quotes and backslashes are removed as the shell would (`r""m`, `'rm'`, `\rm`, `$'\x72m'` → `rm`),
 *   whitespace is collapsed to single spaces, and the command word's directory is dropped
 *   (`/bin/rm` → `rm`; the line as written is checked as well).
 * - `;`, `&&`, `||`, `|`, `&`, newlines and parentheses split a line into several commands, each checked.
 * - Command and process substitutions (`$(…)`, backticks, `<(…)`) are checked as command lines too.
 * - Leading `VAR=value` assignments, redirections and shell keywords (`if`, `then`, `do`, `!`, `{`…) are dropped.
 * - Wrappers are unwrapped and the inner command is checked too: `sudo`, `doas`, `env X=y`, `nohup`,
 *   `nice`, `timeout 5`, `xargs`, `exec`, `command`, `su -c '…'`, `eval '…'`, `sh -c '…'`, `bash -lc '…'` and friends.
 *
 * Glob patterns (`commands` in a rule): `*` matches any run of characters (spaces and `/` included),
 * `?` one character, `\x` a literal x. A pattern matches a command when it matches the whole
 * normalised command or a leading run of its words, so `rm -rf /` also matches
 * `rm -rf / --no-preserve-root` but not `rm -rf /tmp/x`; `systemctl restart *` matches any restart.
 * Flags are not reordered: `rm -fr /` is another pattern (or use an RE2 `patterns` entry).
 *
 * Regex patterns (`patterns` in a rule) are RE2 (linear time, no backreferences or lookaround),
 * unanchored, case-sensitive unless they start with `(?i)`; they are tested against the raw line
 * and against every normalised command.
 */
import RE2 from 're2';
import { lexShellLine } from './shell-lex.ts';
import { unwrapCommand } from './unwrap.ts';

export interface CommandLine {
  readonly raw: string;
  /** Every simple command found (normalised words joined by one space), unwrapped forms included. */
  readonly commands: readonly string[];
  /** Set when the line could not be fully analysed (nesting too deep, too many commands). */
  readonly incomplete?: string;
}

export interface CommandMatcher {
  readonly source: string;
  /** The matching command (or the raw line, for a regex matching it), or undefined. */
  match(line: CommandLine): string | undefined;
}

const MAX_DEPTH = 8;
const MAX_COMMANDS = 2000;
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'coproc', '[[', ']]']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=/;
const REDIRECT_ONLY = /^(?:\d*|&)(?:>>?|<<?<?|>&|<&|>\|)$/;
const REDIRECT_WITH_TARGET = /^(?:\d*|&)(?:>>?|<<?<?|>&|<&|>\|)\S/;

class Expander {
  readonly commands: string[] = [];
  private readonly seen = new Set<string>();
  incomplete: string | undefined;

  line(text: string, depth: number): void {
    if (depth > MAX_DEPTH) {
      this.incomplete ??= 'commands nested too deeply';
      return;
    }
    const lexed = lexShellLine(text);
    for (const words of lexed.commands) this.command(words, depth);
    for (const sub of lexed.substitutions) this.line(sub, depth + 1);
  }

  private command(input: readonly string[], depth: number): void {
    if (depth > MAX_DEPTH) {
      this.incomplete ??= 'commands nested too deeply';
      return;
    }
    const words = stripPrefixes(input);
    if (words.length === 0) return;
    this.add(words.join(' '));
    const first = words[0] as string;
    const base = basename(first);
    if (base !== first) words[0] = base;
    this.add(words.join(' '));
    const inner = unwrapCommand(words);
    if (!inner) return;
    if ('script' in inner) this.line(inner.script, depth + 1);
    else this.command(inner.words, depth + 1);
  }

  private add(command: string): void {
    if (this.seen.has(command)) return;
    if (this.commands.length >= MAX_COMMANDS) {
      this.incomplete ??= 'too many commands in one line';
      return;
    }
    this.seen.add(command);
    this.commands.push(command);
  }
}

/** Drops leading keywords, `VAR=value` assignments and redirections; collapses whitespace inside words. */
function stripPrefixes(input: readonly string[]): string[] {
  const words = input.map((w) => w.replace(/\s+/g, ' ').trim()).filter((w) => w !== '');
  let i = 0;
  while (i < words.length) {
    const w = words[i] as string;
    if (KEYWORDS.has(w) || ASSIGNMENT.test(w) || REDIRECT_WITH_TARGET.test(w)) i++;
    else if (REDIRECT_ONLY.test(w)) i += 2;
    else break;
  }
  return words.slice(i);
}

function basename(word: string): string {
  const slash = word.lastIndexOf('/');
  return slash >= 0 && slash < word.length - 1 ? word.slice(slash + 1) : word;
}

/** Splits, normalises and unwraps a shell command line. Never throws. */
export function expandCommandLine(text: string): CommandLine {
  const ex = new Expander();
  try {
    ex.line(text, 0);
  } catch (err) {
    ex.incomplete ??= err instanceof RangeError ? 'command line nested too deeply' : `command line could not be analysed`;
  }
  return ex.incomplete ? { raw: text, commands: ex.commands, incomplete: ex.incomplete } : { raw: text, commands: ex.commands };
}

function escapeRegex(c: string): string {
  return /[\\^$.|?*+()[\]{}]/.test(c) ? `\\${c}` : c;
}

/** Normalises a glob pattern the way commands are normalised (whitespace, command word's directory). */
export function normaliseCommandPattern(pattern: string): string {
  const words = pattern.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length > 0) words[0] = basename(words[0] as string);
  return words.join(' ');
}

/** Compiles a glob pattern (see the module comment). Throws on an empty pattern. */
export function compileCommandPattern(pattern: string): CommandMatcher {
  const normalised = normaliseCommandPattern(pattern);
  if (normalised === '') throw new Error('empty command pattern');
  let body = '';
  for (let i = 0; i < normalised.length; i++) {
    const c = normalised[i] as string;
    if (c === '*') body += '.*';
    else if (c === '?') body += '.';
    else if (c === '\\' && i + 1 < normalised.length) body += escapeRegex(normalised[++i] as string);
    else body += escapeRegex(c);
  }
  const re = new RE2(`^(?:${body})(?: .*)?$`, 's');
  return {
    source: pattern,
    match: (line) => line.commands.find((c) => re.test(c)),
  };
}

/** Compiles an RE2 regex; throws (with RE2's message) when the syntax is not supported. */
export function compileRegex(pattern: string): RE2 {
  return new RE2(pattern);
}

/** An RE2 `patterns` entry for command lines: tested on the raw line and on every normalised command. */
export function compileCommandRegex(pattern: string): CommandMatcher {
  const re = compileRegex(pattern);
  return {
    source: pattern,
    match: (line) => (re.test(line.raw) ? line.raw : line.commands.find((c) => re.test(c))),
  };
}
