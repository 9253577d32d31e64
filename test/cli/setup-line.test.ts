import { describe, expect, it } from 'vitest';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { airlockIn as airlock } from '../harness/cli.ts';


async function withStore<T>(fn: (dir: string, config: string, data: string) => Promise<T>): Promise<T> {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'airlock-setup-')));
  try {
    const data = join(dir, 'store');
    await openStore(data).close();
    const config = join(dir, 'gw.yaml');
    writeFileSync(config, `dataDir: ${data}\n`);
    return await fn(dir, config, data);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a command says which config and data dir it uses', () => {
  it('--verbose: one line on stderr naming both, stdout unchanged; without it, nothing', async () => {
    await withStore(async (dir, config, data) => {
      const quiet = await airlock(['sessions', 'list', '--json', '--config', config], dir);
      expect(quiet.code, quiet.stderr).toBe(0);
      expect(quiet.stderr).toBe('');
      for (const argv of [['--verbose', 'sessions', 'list', '--json'], ['sessions', '--verbose', 'list', '--json'], ['tokens', 'list', '--verbose']]) {
        const r = await airlock([...argv, '--config', config], dir);
        expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
        expect(r.stderr, argv.join(' ')).toBe(`airlock: config ${config}, data dir ${data}\n`);
        if (argv.includes('sessions')) expect(r.stdout).toBe(quiet.stdout);
      }
    });
  });

  it('--verbose names them when the command is refused too, and after -- it is not taken', async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'airlock-setup-')));
    try {
      const r = await airlock(['sessions', 'list', '--verbose'], dir);
      expect(r.code).toBe(5);
      expect(r.stderr.split('\n')[0]).toBe(`airlock: config none (no airlock.yaml here, no --config, no AIRLOCK_CONFIG: built-in defaults), data dir ${join(dir, '.airlock')}`);
      const after = await airlock(['sessions', 'show', '--', '--verbose'], dir);
      expect(after.stderr).not.toMatch(/^airlock: config/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--help ends with the config and data dir the command would use with those options', async () => {
    await withStore(async (dir, config, data) => {
      const r = await airlock(['sessions', '--help', '--config', config], dir);
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`Uses: config ${config}, data dir ${data} (with these options, here).`);
      const missing = await airlock(['tokens', '--help', '--config', join(dir, 'nope.yaml')], dir);
      expect(missing.code).toBe(0);
      expect(missing.stdout).toContain(`Uses: config ${join(dir, 'nope.yaml')}, which cannot be read here:`);
    });
  });
});
