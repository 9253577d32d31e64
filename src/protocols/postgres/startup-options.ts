/**
 * The `options` startup parameter (PGOPTIONS), read as the server reads it: split by pg_split_opts (whitespace
 * separates, a backslash takes the next character), then parsed with getopt by process_postgres_switches
 * (src/backend/tcop/postgres.c) with the option string "B:bC:c:D:d:EeFf:h:ijk:lN:nOPp:r:S:sTt:v:W:-:".
 * getopt bundles switches (`-ec role=x` is `-e` then `-c role=x`), takes an argument from the rest of the word
 * or from the next word, and reads `--name=value` as switch `-` with argument `name=value`.
 *
 * Each switch that sets a run-time setting becomes that setting (`-P` is ignore_system_indexes=true, `-S 1GB`
 * is work_mem=1GB…), decided by the policy like any other. Switches that set nothing a client may set, that the
 * server ignores from a client, or that it would reject (an unknown letter, a missing argument, a word that is
 * not an option) are refused: the gateway does not relay what it has not decided.
 */
import type { StartupSetting } from './startup-settings.ts';

export class StartupOptionError extends Error {}

/** Switches without an argument and the settings they make. */
const FLAGS: Readonly<Record<string, StartupSetting>> = {
  e: { name: 'datestyle', value: 'euro' },
  F: { name: 'fsync', value: 'false' },
  i: { name: 'listen_addresses', value: '*' },
  l: { name: 'ssl', value: 'true' },
  O: { name: 'allow_system_table_mods', value: 'true' },
  P: { name: 'ignore_system_indexes', value: 'true' },
  s: { name: 'log_statement_stats', value: 'true' },
};

/** Switches whose argument is a setting's value. */
const VALUED: Readonly<Record<string, string>> = {
  B: 'shared_buffers', h: 'listen_addresses', k: 'unix_socket_directories', N: 'max_connections', p: 'port', S: 'work_mem', W: 'post_auth_delay',
};

/** -f letters: plan types turned off. */
const PLAN_OFF: Readonly<Record<string, string>> = {
  s: 'enable_seqscan', i: 'enable_indexscan', o: 'enable_indexonlyscan', b: 'enable_bitmapscan', t: 'enable_tidscan',
  n: 'enable_nestloop', m: 'enable_mergejoin', h: 'enable_hashjoin',
};

/** Switches getopt accepts but that are not decided here (server-internal, ignored from clients, or debug levels). */
const REFUSED = new Set(['b', 'C', 'D', 'd', 'E', 'j', 'n', 'r', 'T', 'v']);
const WITH_ARGUMENT = new Set(['B', 'C', 'c', 'D', 'd', 'f', 'h', 'k', 'N', 'p', 'r', 'S', 't', 'v', 'W', '-']);

/** The settings an options string makes, in order; throws StartupOptionError for what is refused. */
export function optionSettings(options: string): StartupSetting[] {
  const args = splitOptions(options);
  const out: StartupSetting[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') throw new StartupOptionError('options: "--" ends the switches; the server rejects what follows');
    if (!word.startsWith('-') || word === '-') throw new StartupOptionError(`options: "${word}" is not a switch (the server rejects it)`);
    for (let j = 1; j < word.length; j++) {
      const letter = word[j]!;
      if (FLAGS[letter]) {
        out.push(FLAGS[letter]);
        continue;
      }
      if (!WITH_ARGUMENT.has(letter)) throw new StartupOptionError(`options: unknown switch -${letter}`);
      let arg = word.slice(j + 1);
      if (arg === '') {
        if (i + 1 >= args.length) throw new StartupOptionError(`options: switch -${letter} needs an argument`);
        arg = args[++i]!;
      }
      out.push(...switchSettings(letter, arg));
      break;
    }
  }
  return out;
}

function switchSettings(letter: string, arg: string): StartupSetting[] {
  if (REFUSED.has(letter)) throw new StartupOptionError(`options: switch -${letter} is not accepted through the gateway`);
  if (letter === 'c' || letter === '-') {
    // ParseLongOption: name up to the first '=', dashes in the name read as underscores; no '=' is an error.
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new StartupOptionError(`options: -${letter} ${arg} is not name=value`);
    return [{ name: arg.slice(0, eq).replace(/-/g, '_'), value: arg.slice(eq + 1) }];
  }
  if (letter === 'f') {
    const name = PLAN_OFF[arg[0] ?? ''];
    if (!name) throw new StartupOptionError(`options: -f ${arg} is not a plan type`);
    return [{ name, value: 'false' }];
  }
  if (letter === 't') {
    const name = arg[0] === 'p' ? (arg[1] === 'a' ? 'log_parser_stats' : arg[1] === 'l' ? 'log_planner_stats' : undefined) : arg[0] === 'e' ? 'log_executor_stats' : undefined;
    if (!name) throw new StartupOptionError(`options: -t ${arg} is not a statistics type`);
    return [{ name, value: 'true' }];
  }
  return [{ name: VALUED[letter]!, value: arg }];
}

/** pg_split_opts: runs of whitespace (C isspace) separate words, a backslash takes the next character. */
function splitOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inArg = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inArg = true;
    } else if (c === ' ' || (c >= '\t' && c <= '\r')) {
      if (inArg) out.push(cur);
      cur = '';
      inArg = false;
    } else {
      cur += c;
      inArg = true;
    }
  }
  if (inArg) out.push(cur);
  return out;
}
