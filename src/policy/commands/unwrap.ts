/**
 * Wrapper commands that run another command: `sudo rm …`, `env X=y rm …`, `nohup rm …`,
 * `timeout 5 rm …`, `xargs rm …`, and shells or `eval`/`su -c`/`env -S` that run a string.
 * Best effort: the option tables cover common GNU/BSD/sudo options taking an argument; an option
 * we do not know is assumed to take none (the next word is then taken as the command, which can
 * only add a candidate, never hide the full line, which is always checked as written too).
 */

export type Unwrapped = { readonly words: string[] } | { readonly script: string };

interface Wrapper {
  /** Short or long options whose value is the next word (`-u root`, `--user root`). */
  readonly argOptions?: readonly string[];
  /** Options whose value is a shell string to check (`su -c 'rm …'`). */
  readonly scriptOptions?: readonly string[];
  /** Positional words before the command (`timeout DURATION cmd`, `chroot DIR cmd`). */
  readonly positional?: number;
  /** The rest of the line is a shell string (`eval`, `watch`). */
  readonly joinsScript?: boolean;
  /** The wrapped command is optional (`su` alone is a login shell; `env` alone lists variables). */
  readonly needsScriptOption?: boolean;
}

const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  sudo: { argOptions: ['-u', '-g', '-h', '-p', '-C', '-D', '-r', '-t', '-U', '-T', '-R', '--user', '--group', '--host', '--prompt', '--close-from', '--chdir', '--role', '--type', '--other-user', '--command-timeout', '--chroot'] },
  doas: { argOptions: ['-u', '-C'] },
  env: { argOptions: ['-u', '-C', '--unset', '--chdir'], scriptOptions: ['-S', '--split-string'] },
  nice: { argOptions: ['-n', '--adjustment'] },
  ionice: { argOptions: ['-c', '-n', '-p', '-P', '-u', '--class', '--classdata'] },
  nohup: {},
  setsid: {},
  time: { argOptions: ['-f', '-o', '--format', '--output'] },
  exec: { argOptions: ['-a'] },
  command: {},
  builtin: {},
  stdbuf: { argOptions: ['-i', '-o', '-e'] },
  timeout: { argOptions: ['-s', '-k', '--signal', '--kill-after'], positional: 1 },
  chroot: { argOptions: ['--userspec', '--groups'], positional: 1 },
  taskset: { positional: 1 },
  chrt: { positional: 1 },
  flock: { argOptions: ['-w', '-E', '--timeout', '--conflict-exit-code'], scriptOptions: ['-c', '--command'], positional: 1 },
  xargs: { argOptions: ['-a', '-d', '-E', '-I', '-L', '-n', '-P', '-s', '--arg-file', '--delimiter', '--max-args', '--max-procs', '--max-chars'] },
  runuser: { argOptions: ['-u', '-g', '-G', '--user', '--group', '--supp-group', '-s', '--shell'], scriptOptions: ['-c', '--command'] },
  su: { argOptions: ['-s', '-g', '-G', '--shell', '--group', '--supp-group'], scriptOptions: ['-c', '--command'], needsScriptOption: true },
  script: { argOptions: ['-t', '-T', '-I', '-O', '-B'], scriptOptions: ['-c', '--command'], needsScriptOption: true },
  busybox: {},
  eval: { joinsScript: true },
  watch: { argOptions: ['-n', '-d', '--interval', '--differences'], joinsScript: true },
  strace: { argOptions: ['-e', '-o', '-p', '-s', '-u', '-E'] },
  ltrace: { argOptions: ['-e', '-o', '-p', '-s', '-u'] },
  unbuffer: {},
  caffeinate: { argOptions: ['-t', '-w'] },
};

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'fish', 'csh', 'tcsh', 'rbash']);
/** Shell options that take a value (`bash -o pipefail -c …`, `bash -O extglob -c …`, `bash --rcfile x`). */
const SHELL_ARG_OPTIONS = new Set(['-o', '+o', '-O', '+O', '--rcfile', '--init-file']);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** The command (or script) a wrapper or shell runs, or undefined when `words` is not one. */
export function unwrapCommand(words: readonly string[]): Unwrapped | undefined {
  const name = words[0];
  if (name === undefined) return undefined;
  if (SHELLS.has(name)) return unwrapShell(words);
  const w = WRAPPERS[name];
  if (!w) return undefined;
  if (w.joinsScript) {
    const rest = skipOptions(words, 1, w);
    if ('script' in rest) return rest;
    return rest.index < words.length ? { script: words.slice(rest.index).join(' ') } : undefined;
  }
  if (w.needsScriptOption) {
    // `su - root -c 'cmd'`: positional words may come before the option.
    const scripts = new Set(w.scriptOptions ?? []);
    for (let i = 1; i < words.length; i++) {
      const word = words[i] as string;
      const eq = word.indexOf('=');
      if (scripts.has(eq > 0 ? word.slice(0, eq) : word)) {
        const value = eq > 0 ? word.slice(eq + 1) : words[i + 1];
        if (value !== undefined) return { script: value };
      }
    }
    return undefined;
  }
  const rest = skipOptions(words, 1, w);
  if ('script' in rest) return rest;
  let i = rest.index;
  while (i < words.length && ASSIGNMENT.test(words[i] as string)) i++; // `sudo X=1 cmd`, `env X=1 cmd`
  i += w.positional ?? 0;
  return i < words.length ? { words: words.slice(i) } : undefined;
}

function skipOptions(words: readonly string[], start: number, w: Wrapper): { index: number } | { script: string } {
  const args = new Set(w.argOptions ?? []);
  const scripts = new Set(w.scriptOptions ?? []);
  let i = start;
  while (i < words.length) {
    const word = words[i] as string;
    if (word === '--') return { index: i + 1 };
    if (!word.startsWith('-') || word === '-') return { index: i };
    const eq = word.indexOf('=');
    const opt = eq > 0 ? word.slice(0, eq) : word;
    if (scripts.has(opt)) {
      const value = eq > 0 ? word.slice(eq + 1) : words[i + 1];
      if (value !== undefined) return { script: value };
    }
    // `-c'cmd'`-style attached values of short script options.
    const attached = [...scripts].find((s) => s.length === 2 && word.length > 2 && !word.startsWith('--') && word.startsWith(s));
    if (attached) return { script: word.slice(2) };
    i += args.has(opt) && eq < 0 ? 2 : 1;
  }
  return { index: i };
}

/** `bash [options] -c 'script' [name args…]`, with `-c` possibly inside a cluster (`-lc`, `-ec`). */
function unwrapShell(words: readonly string[]): Unwrapped | undefined {
  let sawC = false;
  for (let i = 1; i < words.length; i++) {
    const word = words[i] as string;
    if (word === '--' || word === '-') {
      return sawC && i + 1 < words.length ? { script: words[i + 1] as string } : undefined;
    }
    if (SHELL_ARG_OPTIONS.has(word)) {
      i++;
      continue;
    }
    if (/^[-+][A-Za-z]+$/.test(word)) {
      if (word.startsWith('-') && word.includes('c')) sawC = true;
      continue;
    }
    if (word === '--command' || word === '-command') {
      sawC = true;
      continue;
    }
    if (word.startsWith('--')) continue;
    if (sawC) return { script: word };
    return undefined; // `bash script.sh`: a file we cannot see
  }
  return undefined;
}
