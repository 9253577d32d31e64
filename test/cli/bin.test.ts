import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../harness/postgres.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

describe('the airlock executable', () => {
  it('runs commands against a local data dir and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-bin-'));
    try {
      const cfg = join(dir, 'airlock.yaml');
      writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\n`);
      const help = await run(process.execPath, [BIN, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('airlock');
      const issued = await run(process.execPath, [BIN, 'tokens', 'issue', '--subject', 'ci', '--groups', 'agents', '--service', '--config', cfg]);
      expect(issued.code, issued.stderr).toBe(0);
      expect(issued.stdout.trim().split('\n').at(-1)).toMatch(/^alk_/);
      const list = await run(process.execPath, [BIN, 'tokens', 'list', '--config', cfg]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/ci\tservice\tagents/);
      const bad = await run(process.execPath, [BIN, 'sessions', 'show', 'nope', '--config', cfg]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain('no session nope');
      const unknown = await run(process.execPath, [BIN, 'frobnicate']);
      expect(unknown.code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
