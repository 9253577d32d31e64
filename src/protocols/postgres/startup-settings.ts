/**
 * The settings a StartupMessage makes: every parameter other than user, database, options and replication is a
 * run-time setting, and so is each setting the switches in `options` make (startup-options.ts). PostgreSQL applies
 * them as if the session began with `SET name TO value`, `role` included; the gateway puts each one to the
 * connection's policy as that statement before the session starts.
 */

import { optionSettings } from './startup-options.ts';

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

/**
 * The settings of a StartupMessage that the policy decides on, in the order PostgreSQL applies them: options first.
 * Throws StartupOptionError for an `options` switch that is refused.
 */
export function startupSettings(params: ReadonlyMap<string, string>): StartupSetting[] {
  const options = params.get('options');
  const out: StartupSetting[] = options ? optionSettings(options) : [];
  for (const [name, value] of params) {
    if (!NOT_SETTINGS.has(name)) out.push({ name, value });
  }
  return out.filter((s) => !WIRE_FORMAT.has(s.name.toLowerCase()));
}

/** The statement a setting stands for, as the policy sees it. */
export function settingStatement(s: StartupSetting): string {
  const name = /^[A-Za-z_][A-Za-z0-9_.]*$/.test(s.name) ? s.name : `"${s.name.replace(/"/g, '""')}"`;
  return `SET ${name} TO '${s.value.replace(/'/g, "''")}'`;
}
