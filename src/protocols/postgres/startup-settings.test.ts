import { describe, expect, it } from 'vitest';
import { settingStatement, startupSettings } from './startup-settings.ts';
import { StartupOptionError, optionSettings } from './startup-options.ts';

describe('startup settings', () => {
  it('reads -c, -cname and --name forms from options, with backslash escapes, as the server splits them', () => {
    expect(optionSettings('-c role=boss  -csearch_path=app --statement-timeout=5s -c app.note=a\\ b')).toEqual([
      { name: 'role', value: 'boss' },
      { name: 'search_path', value: 'app' },
      { name: 'statement_timeout', value: '5s' },
      { name: 'app.note', value: 'a b' },
    ]);
  });

  it('reads switches as getopt does: bundled, with the argument in the same word or the next', () => {
    expect(optionSettings('-ec role=x')).toEqual([{ name: 'datestyle', value: 'euro' }, { name: 'role', value: 'x' }]);
    expect(optionSettings('-Pcrole=x')).toEqual([{ name: 'ignore_system_indexes', value: 'true' }, { name: 'role', value: 'x' }]);
    expect(optionSettings('-S 1GB -W5 -fs -tpa -B 8MB')).toEqual([
      { name: 'work_mem', value: '1GB' }, { name: 'post_auth_delay', value: '5' }, { name: 'enable_seqscan', value: 'false' },
      { name: 'log_parser_stats', value: 'true' }, { name: 'shared_buffers', value: '8MB' },
    ]);
    expect(optionSettings('-c\\ role=x')).toEqual([{ name: ' role', value: 'x' }]);
    // Only C isspace() separates words: a no-break space is part of the word, as on the server.
    expect(optionSettings('-c\u00a0role=x')).toEqual([{ name: '\u00a0role', value: 'x' }]);
  });

  it.each(['-c', '-c =x', '--=y', '-c role', '-x', '-d 5', '-b', '-E', '-r /tmp/out', '-v 2', 'role=x', '-', '-- -c role=x', '-f z', '-t zz', '-Pe -Z'])(
    'refuses %j, which it does not decide', (options) => {
      expect(() => optionSettings(options)).toThrow(StartupOptionError);
    },
  );

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
