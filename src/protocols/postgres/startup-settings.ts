/**
 * The settings a StartupMessage makes: every parameter other than user, database, options and replication is a
 * run-time setting, and so is each `-c name=value` / `--name=value` in `options` (PGOPTIONS). PostgreSQL applies
 * them as if the session began with `SET name TO value`, `role` included; the gateway puts each one to the
 * connection's policy as that statement before the session starts.
 */

/** Parameters that are not settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'options', 'replication']);

/**
 * Settings that only shape how values travel on the wire, sent by drivers on every connection (psql and libpq,
 * pgjdbc, node-postgres): not put to the policy at startup, so a rule against SET does not refuse every client.
 * Set with SET after connecting, they are policy-checked like any statement.
 */
const WIRE_FORMAT = new Set(['application_name', 'client_encoding', 'datestyle', 'timezone', 'intervalstyle', 'extra_float_digits']);

export interface StartupSetting {
  readonly name: string;
  readonly value: string;
}

/** The settings of a StartupMessage that the policy decides on, in the order PostgreSQL applies them: options first. */
export function startupSettings(params: ReadonlyMap<string, string>): StartupSetting[] {
  const options = params.get('options');
  const out: StartupSetting[] = options ? optionSettings(options) : [];
  for (const [name, value] of params) {
    if (!NOT_SETTINGS.has(name)) out.push({ name, value });
  }
  return out.filter((s) => !WIRE_FORMAT.has(s.name.toLowerCase()));
}

/** `-c name=value`, `-cname=value` and `--name=value` in an options string (space-separated, `\` escapes). */
export function optionSettings(options: string): StartupSetting[] {
  const args = splitOptions(options);
  const out: StartupSetting[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    let pair: string | undefined;
    if (a === '-c') pair = args[++i];
    else if (a.startsWith('-c')) pair = a.slice(2);
    else if (a.startsWith('--')) pair = a.slice(2);
    const eq = pair?.indexOf('=') ?? -1;
    if (pair && eq > 0) out.push({ name: pair.slice(0, eq).replace(/-/g, '_'), value: pair.slice(eq + 1) });
  }
  return out;
}

/** Splits as the server does (pg_split_opts): runs of whitespace separate, a backslash takes the next char. */
function splitOptions(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inArg = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inArg = true;
    } else if (/\s/.test(c)) {
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

/** The statement a setting stands for, as the policy sees it. */
export function settingStatement(s: StartupSetting): string {
  const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(s.name) ? s.name : `"${s.name.replace(/"/g, '""')}"`;
  return `SET ${name} TO '${s.value.replace(/'/g, "''")}'`;
}
