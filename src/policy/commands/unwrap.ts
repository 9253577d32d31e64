/**
 * Commands that run other commands: wrappers (`sudo rm …`, `env X=y rm …`, `nohup`, `timeout 5`,
 * `xargs rm`, `find -exec rm {} ;`), and shells, `eval`, `su -c`, `script -c`, `trap`, `alias` that
 * run a string. The inner command is checked too. Where the gateway cannot tell exactly what runs,
 * the answer is `unknown` and the caller treats the line as unknown (its rules' `onUnknown` decide):
 * an option a wrapper table does not know, a script given as an expansion (`sh -c "$x"`), a shell or
 * interpreter reading its program from a pipe or a redirection (`… | sh`, `sh -s < f`), code given
 * inline to another language (`python3 -c`, `perl -e`), `bind -x`.
 */
import type { Word } from './shell-lex.ts';

export type Unwrapped =
  | { readonly words: readonly Word[] }
  | { readonly script: string }
  | { readonly unknown: string }
  /** A shell or interpreter reading commands from the session's own input (`ssh host bash`). */
  | { readonly readsInput: true };

const READS_INPUT: Unwrapped = { readsInput: true };

interface Wrapper {
  /** Options whose value is the next word (`-u root`, `--user root`) or attached (`--user=root`). */
  readonly argOptions?: readonly string[];
  /** Options that take no value. Any other option makes the command unknown. */
  readonly flags?: readonly string[];
  /** Options whose value is a shell string to check (`su -c 'rm …'`). */
  readonly scriptOptions?: readonly string[];
  /** Positional words before the command (`timeout DURATION cmd`, `chroot DIR cmd`). */
  readonly positional?: number;
  /** The rest of the line is a shell string (`eval`, `watch`). */
  readonly joinsScript?: boolean;
  /** Without a script option it runs an interactive shell (`su`, `script`). */
  readonly needsScriptOption?: boolean;
  /** Allows a numeric option (`nice -10`). */
  readonly numeric?: boolean;
  /** The command's trailing arguments come from its input (`xargs`). */
  readonly argsFromInput?: boolean;
}

const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  sudo: {
    argOptions: ['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U', '-T', '-R', '--user', '--group', '--host', '--prompt', '--close-from', '--chdir', '--role', '--type', '--other-user', '--command-timeout', '--chroot'],
    flags: ['-A', '-b', '-E', '-H', '-i', '-k', '-n', '-P', '-S', '-s', '-B', '--askpass', '--background', '--preserve-env', '--set-home', '--login', '--reset-timestamp', '--non-interactive', '--preserve-groups', '--stdin', '--shell', '--bell'],
  },
  doas: { argOptions: ['-u', '-C'], flags: ['-n', '-s'] },
  env: { argOptions: ['-u', '-C', '--unset', '--chdir'], flags: ['-i', '-0', '-v', '--ignore-environment', '--null', '--debug'], scriptOptions: ['-S', '--split-string'] },
  nice: { argOptions: ['-n', '--adjustment'], numeric: true },
  ionice: { argOptions: ['-c', '-n', '-p', '-P', '-u', '--class', '--classdata'], flags: ['-t', '--ignore'] },
  nohup: {},
  setsid: { flags: ['-c', '-f', '-w', '--ctty', '--fork', '--wait'] },
  time: { argOptions: ['-f', '-o', '--format', '--output'], flags: ['-p', '-a', '-v', '--portability', '--append', '--verbose'] },
  exec: { argOptions: ['-a'], flags: ['-c', '-l'] },
  command: { flags: ['-p', '-v', '-V'] },
  builtin: {},
  stdbuf: { argOptions: ['-i', '-o', '-e', '--input', '--output', '--error'] },
  timeout: { argOptions: ['-s', '-k', '--signal', '--kill-after'], flags: ['-v', '--verbose', '--preserve-status', '--foreground'], positional: 1 },
  chroot: { argOptions: ['--userspec', '--groups'], flags: ['--skip-chdir'], positional: 1 },
  taskset: { flags: ['-a', '-c', '--all-tasks', '--cpu-list'], positional: 1 },
  chrt: { flags: ['-b', '-d', '-f', '-i', '-o', '-r', '-R', '-a', '--batch', '--fifo', '--idle', '--other', '--rr', '--reset-on-fork', '--all-tasks'], positional: 1 },
  flock: { argOptions: ['-w', '-E', '--timeout', '--conflict-exit-code'], flags: ['-s', '-x', '-n', '-o', '-u', '--shared', '--exclusive', '--nonblock', '--close', '--unlock'], scriptOptions: ['-c', '--command'], positional: 1 },
  xargs: {
    argOptions: ['-a', '-d', '-E', '-I', '-L', '-n', '-P', '-s', '--arg-file', '--delimiter', '--max-args', '--max-procs', '--max-chars', '--max-lines', '--replace', '--eof'],
    flags: ['-0', '-r', '-t', '-p', '-x', '-o', '--null', '--no-run-if-empty', '--verbose', '--interactive', '--exit', '--open-tty'],
    argsFromInput: true,
  },
  runuser: { argOptions: ['-u', '-g', '-G', '--user', '--group', '--supp-group', '-s', '--shell'], flags: ['-l', '-', '--login', '-m', '-p', '--preserve-environment'], scriptOptions: ['-c', '--command'] },
  su: { argOptions: ['-s', '-g', '-G', '--shell', '--group', '--supp-group'], scriptOptions: ['-c', '--command'], needsScriptOption: true },
  script: { argOptions: ['-t', '-T', '-I', '-O', '-B', '-E', '--timing', '--log-in', '--log-out', '--log-io', '--echo', '--logging-format'], scriptOptions: ['-c', '--command'], needsScriptOption: true },
  busybox: {},
  eval: { joinsScript: true },
  watch: { argOptions: ['-n', '-d', '--interval', '--differences'], flags: ['-t', '-b', '-e', '-g', '-c', '-x', '-p', '--no-title', '--beep', '--errexit', '--chgexit', '--color', '--exec', '--precise'], joinsScript: true },
  strace: { argOptions: ['-e', '-o', '-p', '-s', '-u', '-E', '-P', '-I', '-a', '-b', '-O', '-S', '-X'], flags: ['-f', '-ff', '-c', '-C', '-q', '-qq', '-t', '-tt', '-ttt', '-T', '-v', '-V', '-w', '-x', '-xx', '-y', '-yy', '-k', '-r', '-D', '-F', '-i', '-n', '-z', '-Z'] },
  ltrace: { argOptions: ['-e', '-o', '-p', '-s', '-u', '-a', '-A', '-D', '-F', '-n', '-l', '-x', '-L'], flags: ['-f', '-c', '-C', '-i', '-r', '-S', '-t', '-tt', '-ttt', '-T', '-w', '-b'] },
  unbuffer: { flags: ['-p'] },
  caffeinate: { argOptions: ['-t', '-w'], flags: ['-d', '-i', '-m', '-s', '-u'] },
};

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh', 'rbash', 'busybox-sh']);
/** Shell options that take a value (`bash -o pipefail -c …`, `bash -O extglob -c …`, `bash --rcfile x`). */
const SHELL_ARG_OPTIONS = new Set(['-o', '+o', '-O', '+O', '--rcfile', '--init-file']);
/** Other languages, and the options that give them their program inline. */
const INTERPRETERS: Readonly<Record<string, readonly string[]>> = {
  python: ['-c'], python2: ['-c'], python3: ['-c'], perl: ['-e', '-E'], ruby: ['-e'], node: ['-e', '-p', '--eval', '--print'], nodejs: ['-e', '-p', '--eval', '--print'],
  php: ['-r'], lua: ['-e'], tclsh: [], wish: [], expect: ['-c'], gdb: ['-ex', '-batch'],
};
/** Variables whose value the shell runs later (prompt strings expand `$(…)`). */
const CODE_VARIABLES = /^(?:PROMPT_COMMAND|PS[0-4]|BASH_ENV|ENV|PROMPT_DIRTRIM)(?:\[[^\]]*\])?\+?=/;
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;
const DECLARERS = new Set(['export', 'declare', 'typeset', 'local', 'readonly']);

/**
 * What a command runs besides itself: inner commands, scripts, or why that cannot be known. `stdinIsData`:
 * its input is a pipe or a redirection, not the session's own input (whose lines the gateway checks).
 */
export function unwrapCommand(words: readonly Word[], stdinIsData: boolean): Unwrapped[] {
  const name = words[0]?.text;
  if (name === undefined) return [];
  if (SHELLS.has(name)) return unwrapShell(words, stdinIsData);
  if (name in INTERPRETERS) return unwrapInterpreter(words, INTERPRETERS[name] ?? [], stdinIsData);
  if (name === 'find') return unwrapFind(words);
  if (name === 'trap') return words.length > 2 ? [script(words[1] as Word)] : [];
  if (name === 'alias') return words.slice(1).filter((w) => w.text.includes('=')).map((w) => script(w, w.text.slice(w.text.indexOf('=') + 1)));
  // What a key does in the line editor is what the gateway's reading of typed lines rests on.
  if (name === 'bind' && words.length > 1) return [{ unknown: '`bind` changes what keys do in the line editor' }];
  if (name === 'set' && words.some((w) => /^[-+]o$/.test(w.text)) && words.some((w) => /^(?:vi|emacs)$/.test(w.text))) return [{ unknown: '`set -o vi` changes what keys do in the line editor' }];
  if (name === 'stty' && words.slice(1).some((w) => !/^(?:-a|--all|-g|--save|size|speed)$/.test(w.text))) return [{ unknown: '`stty` changes what keys do in the terminal' }];
  if (DECLARERS.has(name)) return codeAssignments(words.slice(1));
  const w = WRAPPERS[name];
  if (!w) return [];
  if (w.joinsScript) {
    const rest = skipOptions(words, 1, w);
    if (!('index' in rest)) return [rest];
    const tail = words.slice(rest.index);
    if (tail.length === 0) return [];
    if (tail.some((t) => t.dynamic)) return [{ unknown: `${name} runs a string only known when it runs` }];
    return [{ script: tail.map((t) => t.text).join(' ') }];
  }
  if (w.needsScriptOption) {
    // `su - root -c 'cmd'`: positional words may come before the option.
    for (let i = 1; i < words.length; i++) {
      const found = scriptOption(words, i, w);
      if (found) return [found];
    }
    return stdinIsData ? [{ unknown: `${name} runs a shell that reads commands from its input` }] : [READS_INPUT];
  }
  const rest = skipOptions(words, 1, w);
  if (!('index' in rest)) return [rest];
  let i = rest.index;
  while (i < words.length && ASSIGNMENT.test(words[i]?.text ?? '')) i++; // `sudo X=1 cmd`, `env X=1 cmd`
  i += w.positional ?? 0;
  if (i >= words.length) {
    if (name === 'sudo' || name === 'doas') return stdinIsData ? [{ unknown: `${name} runs a shell that reads commands from its input` }] : [READS_INPUT];
    return w.argsFromInput && i === words.length ? [{ words: [{ text: 'echo', dynamic: false }, { text: '…', dynamic: true }] }] : [];
  }
  const inner = words.slice(i);
  if (!w.argsFromInput) return [{ words: inner }];
  // `xargs rm`: more words follow from the input; `xargs -I{} rm {}`: its words take them in.
  const replaces = words.slice(1, i).some((o) => /^(?:-I|-i|--replace)/.test(o.text));
  return [{ words: replaces ? inner.map((x, k) => (k === 0 ? x : { text: x.text, dynamic: true })) : [...inner, { text: '…', dynamic: true }] }];
}

function script(word: Word, text = word.text): Unwrapped {
  return word.dynamic ? { unknown: 'a script only known when it runs' } : { script: text };
}

/** Assignments to variables whose value the shell runs later (`PROMPT_COMMAND=…`, `PS1='$(…)'`). */
export function codeAssignments(words: readonly Word[]): Unwrapped[] {
  const out = words.filter((w) => CODE_VARIABLES.test(w.text)).map((w) => script(w, w.text.slice(w.text.indexOf('=') + 1)));
  if (words.some((w) => /^INPUTRC=/.test(w.text))) out.push({ unknown: '`INPUTRC` changes what keys do in the line editor' });
  return out;
}

/** A script option at `i` (`-c x`, `--command=x`, `-qc x`, `-cx`), or undefined. */
function scriptOption(words: readonly Word[], i: number, w: Wrapper): Unwrapped | undefined {
  const word = words[i] as Word;
  const scripts = w.scriptOptions ?? [];
  const eq = word.text.indexOf('=');
  const opt = word.text.startsWith('--') && eq > 0 ? word.text.slice(0, eq) : word.text;
  if (scripts.includes(opt)) {
    if (opt !== word.text) return script(word, word.text.slice(eq + 1));
    const value = words[i + 1];
    return value ? script(value) : { unknown: `${opt} without a script` };
  }
  // A cluster of short options ending in a script option, or with the script attached: `-qc cmd`, `-ccmd`.
  if (/^-[A-Za-z]{2,}/.test(word.text)) {
    const letters = word.text.slice(1);
    for (let k = 0; k < letters.length; k++) {
      if (!scripts.includes(`-${letters[k]}`)) continue;
      const attached = letters.slice(k + 1);
      if (attached) return script(word, attached);
      const value = words[i + 1];
      return value ? script(value) : { unknown: `-${letters[k]} without a script` };
    }
  }
  return undefined;
}

/** Skips a wrapper's options; an option it does not know makes the command unknown. */
function skipOptions(words: readonly Word[], start: number, w: Wrapper): { index: number } | Unwrapped {
  const args = new Set(w.argOptions ?? []);
  const flags = new Set(w.flags ?? []);
  let i = start;
  while (i < words.length) {
    const word = words[i] as Word;
    const t = word.text;
    if (t === '--') return { index: i + 1 };
    if (!t.startsWith('-') || t === '-') {
      if (word.dynamic && i === start) return { unknown: `an option only known when it runs (${t})` };
      return { index: i };
    }
    if (word.dynamic) return { unknown: `an option only known when it runs (${t})` };
    const found = scriptOption(words, i, w);
    if (found) return found;
    const eq = t.indexOf('=');
    const opt = t.startsWith('--') && eq > 0 ? t.slice(0, eq) : t;
    if (args.has(opt)) {
      i += opt === t ? 2 : 1;
      continue;
    }
    if (flags.has(opt) || (w.numeric && /^-\d+$/.test(t))) {
      i++;
      continue;
    }
    // `-uroot` (an argument option with its value attached) or a cluster of flags (`-Hn`).
    const short = t.slice(0, 2);
    if (!t.startsWith('--') && args.has(short)) {
      i++;
      continue;
    }
    if (!t.startsWith('--') && [...t.slice(1)].every((l) => flags.has(`-${l}`))) {
      i++;
      continue;
    }
    return { unknown: `${words[0]?.text} option ${t} is not one the gateway knows` };
  }
  return { index: i };
}

/** `bash [options] -c 'script' [name args…]`, with `-c` possibly inside a cluster (`-lc`, `-ec`). */
function unwrapShell(words: readonly Word[], stdinIsData: boolean): Unwrapped[] {
  let sawC = false;
  for (let i = 1; i < words.length; i++) {
    const word = words[i] as Word;
    const t = word.text;
    if (word.dynamic && !sawC) return [{ unknown: `a shell option or script only known when it runs (${t})` }];
    if (t === '--' || t === '-') {
      if (sawC) return i + 1 < words.length ? [script(words[i + 1] as Word)] : [{ unknown: '-c without a script' }];
      break;
    }
    if (SHELL_ARG_OPTIONS.has(t)) {
      i++;
      continue;
    }
    if (/^[-+][A-Za-z]+$/.test(t)) {
      if (t.startsWith('-') && t.includes('c')) sawC = true;
      continue;
    }
    if (t === '--command' || t === '-command') {
      sawC = true;
      continue;
    }
    if (t.startsWith('--')) continue;
    if (sawC) return [script(word)];
    return []; // `bash script.sh`: a file the gateway cannot see, like any program
  }
  if (sawC) return [{ unknown: '-c without a script' }];
  // No script: the shell reads commands from its input. The session's own input is checked line by line;
  // a pipe or a redirection is data the gateway does not see as lines.
  return stdinIsData ? [{ unknown: `${words[0]?.text} reads commands from a pipe or a file` }] : [READS_INPUT];
}

function unwrapInterpreter(words: readonly Word[], inline: readonly string[], stdinIsData: boolean): Unwrapped[] {
  const name = words[0]?.text;
  for (let i = 1; i < words.length; i++) {
    const t = (words[i] as Word).text;
    if (inline.some((o) => t === o || (o.length === 2 && t.startsWith(o)) || t.startsWith(`${o}=`))) {
      return [{ unknown: `${name} ${t.slice(0, 2)} runs code in another language` }];
    }
    if (t === '-') break;
    if (!t.startsWith('-')) return []; // a program file, like any program
  }
  return stdinIsData ? [{ unknown: `${name} reads its program from a pipe or a file` }] : [READS_INPUT];
}

/** `find … -exec cmd {} ;` (and -execdir, -ok, -okdir): each inner command, `{}` unknown until it runs. */
function unwrapFind(words: readonly Word[]): Unwrapped[] {
  const out: Unwrapped[] = [];
  for (let i = 1; i < words.length; i++) {
    const t = (words[i] as Word).text;
    if (!['-exec', '-execdir', '-ok', '-okdir'].includes(t)) continue;
    const inner: Word[] = [];
    let j = i + 1;
    for (; j < words.length; j++) {
      const w = words[j] as Word;
      if (w.text === ';' || w.text === '+') break;
      inner.push(w.text.includes('{}') ? { text: w.text, dynamic: true } : w);
    }
    if (inner.length === 0) out.push({ unknown: `find ${t} without a command` });
    else out.push({ words: inner });
    i = j;
  }
  return out;
}
