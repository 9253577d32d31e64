/**
 * Command matching for shell-like protocols (SSH exec requests, lines typed in an interactive shell).
 *
 * Deny and review rules are a guard rail, not a sandbox: a shell is a programming language, and a
 * program on disk, `find / -delete` or `awk 'BEGIN{system(…)}'` get past a `rm -rf /` pattern. For
 * containment use an allow-list (`policy.allow`, see allow-list.ts). What the matcher does:
 *
 * - Quotes and backslashes are removed as the shell would (`r""m`, `'rm'`, `\rm`, `$'\x72m'`, `$"rm"` → `rm`),
 *   whitespace is collapsed to single spaces, and the command word's directory is dropped
 *   (`/bin/rm` → `rm`; the line as written is checked as well).
 * - `;`, `&&`, `||`, `|`, `&`, newlines and parentheses split a line into several commands, each checked.
 * - Command and process substitutions (`$(…)`, backticks, `<(…)`) are checked as command lines too.
 * - Leading `VAR=value` assignments, redirections and shell keywords (`if`, `then`, `do`, `!`, `{`…) are
 *   dropped; assignments to variables the shell runs later (`PROMPT_COMMAND`, `PS1`…) are checked as scripts.
 * - Wrappers are unwrapped and the inner command is checked too (see unwrap.ts); where that cannot be
 *   exact (an unknown option, `… | sh`, `python3 -c`), the line is unknown.
 * - A command name only known when it runs (`t$@ouch`, `/usr/bin/tou?h`, `{touch,x}`) makes the line
 *   unknown; rules' `onUnknown` decide. A command whose later words are only known when it runs
 *   (`touch "$f"`) matches a glob that the words before could start (`touch /tmp/x*`).
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
import { lexShellLine, type Word } from './shell-lex.ts';
import { codeAssignments, unwrapCommand, type Unwrapped } from './unwrap.ts';

/** One command that runs, as written (its command word's directory kept). */
export interface ShellCommand {
  readonly words: readonly Word[];
  /** The words joined by one space. */
  readonly text: string;
  /** The same with the command word's directory dropped (`/bin/rm -rf /` → `rm -rf /`), as deny globs see it. */
  readonly base: string;
  /** Index of the first word only known when the command runs, or -1. */
  readonly dynamicAt: number;
}

export interface CommandLine {
  readonly raw: string;
  /** Every simple command found (normalised words joined by one space), unwrapped forms included. */
  readonly commands: readonly string[];
  /** Every command that runs (normalised, unwrapped ones included), with what only the shell can know. */
  readonly run: readonly ShellCommand[];
  /** Set when what the line runs cannot be fully known (a command name only known when it runs…). */
  readonly incomplete?: string;
  /** What the line does besides running commands (sets a variable, redirects to a file), for allow-lists. */
  readonly effects: readonly string[];
  /** A shell or interpreter in it reads commands from the session's own input (`ssh host bash`). */
  readonly readsInput?: true;
}

export interface CommandMatcher {
  readonly source: string;
  /**
   * The matching command (or the raw line, for a regex matching it), or undefined. A glob also matches a
   * command it could match once its words only known when it runs are known (`touch $f` for `touch /x*`).
   */
  match(line: CommandLine): string | undefined;
}

/** A glob pattern as an allow-list entry: does it allow this command, whatever its unknown words turn out to be? */
export interface CommandAllower {
  readonly source: string;
  allows(command: ShellCommand): boolean;
}

const MAX_DEPTH = 8;
const MAX_COMMANDS = 2000;
const KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', '!', '{', '}', 'coproc', '[[', ']]']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\+?=/;
const REDIRECT_ONLY = /^(?:\d*|&)(?:>>?|<<?<?|>&|<&|>\||<>)$/;
const REDIRECT_WITH_TARGET = /^(?:\d*|&)(?:>>?|<<?<?|>&|<&|>\||<>)\S/;
/** A redirection of standard input: the command reads a file, a here-doc or a here-string. */
const STDIN_REDIRECT = /^0?<(?!\()/;

class Expander {
  readonly commands: string[] = [];
  readonly run: ShellCommand[] = [];
  readonly effects = new Set<string>();
  readsInput = false;
  private readonly seen = new Set<string>();
  incomplete: string | undefined;

  line(text: string, depth: number): void {
    if (depth > MAX_DEPTH) {
      this.incomplete ??= 'commands nested too deeply';
      return;
    }
    const lexed = lexShellLine(text);
    if (lexed.unterminated) this.incomplete ??= `the line ends in ${lexed.unterminated}`;
    for (const c of lexed.commands) {
      const stdinIsData = c.piped || c.words.some((w) => STDIN_REDIRECT.test(w.text));
      this.command(c.words, stdinIsData, depth);
    }
    for (const sub of lexed.substitutions) this.line(sub, depth + 1);
  }

  private command(input: readonly Word[], stdinIsData: boolean, depth: number): void {
    if (depth > MAX_DEPTH) {
      this.incomplete ??= 'commands nested too deeply';
      return;
    }
    const firstWord = input.findIndex((w) => !ASSIGNMENT.test(w.text));
    if (firstWord !== 0) this.effects.add('sets a variable');
    for (const u of codeAssignments(firstWord < 0 ? input : input.slice(0, firstWord))) this.inner(u, stdinIsData, depth);
    for (let i = 0; i < input.length; i++) {
      const w = (input[i] as Word).text;
      if (REDIRECT_WITH_TARGET.test(w) || REDIRECT_ONLY.test(w)) {
        const target = REDIRECT_ONLY.test(w) ? input[i + 1]?.text : w.replace(/^(?:\d*|&)(?:>>?|<<?<?|>&|<&|>\||<>)/, '');
        if (!/^(?:\d+|-|\/dev\/null)$/.test(target ?? '')) this.effects.add('redirects to or from a file');
      }
    }
    const words = stripPrefixes(input);
    if (words.length === 0) return;
    const first = words[0] as Word;
    if (first.dynamic) this.incomplete ??= `the command name ${JSON.stringify(first.text)} is only known when it runs`;
    const text = words.map((w) => w.text).join(' ');
    this.add(text);
    const base = basename(first.text);
    const normalised = base === first.text ? words : [{ text: base, dynamic: first.dynamic }, ...words.slice(1)];
    const baseText = normalised.map((w) => w.text).join(' ');
    this.add(baseText);
    this.run.push({ words, text, base: baseText, dynamicAt: words.findIndex((w) => w.dynamic) });
    for (const u of unwrapCommand(withoutRedirections(normalised), stdinIsData)) this.inner(u, stdinIsData, depth);
  }

  private inner(u: Unwrapped, stdinIsData: boolean, depth: number): void {
    if ('readsInput' in u) this.readsInput = true;
    else if ('unknown' in u) this.incomplete ??= u.unknown;
    else if ('script' in u) this.line(u.script, depth + 1);
    else this.command(u.words, stdinIsData, depth + 1);
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
function stripPrefixes(input: readonly Word[]): Word[] {
  const words = input.map((w) => ({ text: w.text.replace(/\s+/g, ' ').trim(), dynamic: w.dynamic })).filter((w) => w.text !== '' || w.dynamic);
  let i = 0;
  while (i < words.length) {
    const w = (words[i] as Word).text;
    if (KEYWORDS.has(w) || ASSIGNMENT.test(w) || REDIRECT_WITH_TARGET.test(w)) i++;
    else if (REDIRECT_ONLY.test(w)) i += 2;
    else break;
  }
  return words.slice(i);
}

function withoutRedirections(words: readonly Word[]): Word[] {
  const out: Word[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = (words[i] as Word).text;
    if (REDIRECT_ONLY.test(w)) i++;
    else if (!REDIRECT_WITH_TARGET.test(w)) out.push(words[i] as Word);
  }
  return out;
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
  const line = { raw: text, commands: ex.commands, run: ex.run, effects: [...ex.effects], ...(ex.readsInput ? { readsInput: true as const } : {}) };
  return ex.incomplete ? { ...line, incomplete: ex.incomplete } : line;
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

function compileGlob(normalised: string, optionalLastStar = false): { re: RE2; glob: GlobPrefix } {
  let body = '';
  const end = optionalLastStar && normalised.endsWith(' *') && !normalised.endsWith('\\ *') ? normalised.length - 2 : normalised.length;
  for (let i = 0; i < end; i++) {
    const c = normalised[i] as string;
    if (c === '*') body += '.*';
    else if (c === '?') body += '.';
    else if (c === '\\' && i + 1 < normalised.length) body += escapeRegex(normalised[++i] as string);
    else body += escapeRegex(c);
  }
  return { re: new RE2(`^(?:${body})(?: .*)?$`, 's'), glob: new GlobPrefix(normalised) };
}

/** The words of a command before its first one only known when it runs, and a space. */
function knownPrefix(words: readonly string[], dynamicAt: number): string {
  return `${words.slice(0, dynamicAt).join(' ')} `;
}

/** Compiles a glob pattern (see the module comment). Throws on an empty pattern. */
export function compileCommandPattern(pattern: string): CommandMatcher {
  const normalised = normaliseCommandPattern(pattern);
  if (normalised === '') throw new Error('empty command pattern');
  const { re, glob } = compileGlob(normalised);
  return {
    source: pattern,
    match: (line) => {
      const exact = line.commands.find((c) => re.test(c));
      if (exact !== undefined) return exact;
      const maybe = line.run.find((c) => c.dynamicAt > 0 && glob.after(knownPrefix(c.base.split(' '), c.dynamicAt)).size > 0);
      return maybe && `${maybe.text} (${maybe.words[maybe.dynamicAt]?.text} is only known when it runs)`;
    },
  };
}

/**
 * Compiles an allow-list glob. Unlike a deny glob, the command word is compared as written: `ls *` allows
 * `ls` found on PATH, not `/tmp/x/ls`. A command with words only known when it runs is allowed only if
 * the pattern allows anything from there on (`cat /var/log/*` allows `cat /var/log/$f`, not `cat $f`).
 */
export function compileAllowPattern(pattern: string): CommandAllower {
  const normalised = pattern.trim().split(/\s+/).join(' ');
  if (normalised === '') throw new Error('empty command pattern');
  // A last word `*` may also be no word at all: `ls *` allows `ls`.
  const { re, glob } = compileGlob(normalised, true);
  return {
    source: pattern,
    allows: (c) => (c.dynamicAt < 0 ? re.test(c.text) : c.dynamicAt > 0 && glob.anySuffix(knownPrefix(c.words.map((w) => w.text), c.dynamicAt))),
  };
}

const TAIL = -1;

/**
 * A glob run as a set of positions over its characters, to ask what a regex cannot: could the pattern match
 * some command that starts with this text, and would it match every one? (`*` any run, `?` one character.)
 * Past the pattern's end only a space and then anything may follow, as `(?: .*)?` says.
 */
class GlobPrefix {
  private readonly toks: (string | '*' | '?')[] = [];
  private readonly literal: boolean[] = [];

  constructor(pattern: string) {
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i] as string;
      const escaped = c === '\\' && i + 1 < pattern.length;
      this.toks.push(escaped ? (pattern[++i] as string) : c);
      this.literal.push(escaped || (c !== '*' && c !== '?'));
    }
  }

  after(text: string): Set<number> {
    let states = this.closure(new Set([0]));
    for (const ch of text) {
      const next = new Set<number>();
      for (const i of states) {
        if (i === TAIL) next.add(TAIL);
        else if (i === this.toks.length) {
          if (ch === ' ') next.add(TAIL);
        } else if (!this.literal[i] && this.toks[i] === '*') next.add(i);
        else if (!this.literal[i] || this.toks[i] === ch) next.add(i + 1);
      }
      states = this.closure(next);
      if (states.size === 0) break;
    }
    return states;
  }

  /** After `text`, does the pattern match whatever follows? */
  anySuffix(text: string): boolean {
    for (const i of this.after(text)) {
      if (i === TAIL) return true;
      if (i < this.toks.length && this.toks.slice(i).every((t, k) => !this.literal[i + k] && t === '*')) return true;
    }
    return false;
  }

  private closure(states: Set<number>): Set<number> {
    for (const i of states) if (i !== TAIL && i < this.toks.length && !this.literal[i] && this.toks[i] === '*') states.add(i + 1);
    return states;
  }
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
