import { describe, expect, it } from 'vitest';
import { optionSettings, settingStatement, startupSettings } from './startup-settings.ts';

describe('startup settings', () => {
  it('reads -c, -cname and --name forms from options, with backslash escapes, as the server splits them', () => {
    expect(optionSettings('-c role=boss  -csearch_path=app --statement-timeout=5s -c app.note=a\\ b -e')).toEqual([
      { name: 'role', value: 'boss' },
      { name: 'search_path', value: 'app' },
      { name: 'statement_timeout', value: '5s' },
      { name: 'app.note', value: 'a b' },
    ]);
    expect(optionSettings('-c')).toEqual([]);
    expect(optionSettings('-c =x --=y')).toEqual([]);
  });

  it('takes every other parameter as a setting, but not the wire-format ones drivers always send', () => {
    const params = new Map([
      ['user', 'alice'], ['database', 'app'], ['replication', 'false'], ['application_name', 'psql'], ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO'], ['TimeZone', 'UTC'], ['extra_float_digits', '3'], ['search_path', 'app'], ['options', '-c role=boss'],
    ]);
    expect(startupSettings(params)).toEqual([{ name: 'role', value: 'boss' }, { name: 'search_path', value: 'app' }]);
  });

  it('stands for the SET statement the server runs', () => {
    expect(settingStatement({ name: 'role', value: 'boss' })).toBe("SET role TO 'boss'");
    expect(settingStatement({ name: 'app.x', value: "it's" })).toBe("SET app.x TO 'it''s'");
    expect(settingStatement({ name: 'we"ird', value: 'v' })).toBe('SET "we""ird" TO \'v\'');
  });
});
