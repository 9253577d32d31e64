import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../harness/postgres.ts';
import { freePort } from '../harness/ports.ts';
import { openStore } from '../../src/store/open.ts';

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
      // Only a gateway creates a store; the other commands work on the one it made.
      await openStore(join(dir, 'data')).close();
      const issued = await run(process.execPath, [BIN, 'tokens', 'issue', '--subject', 'ci', '--groups', 'agents', '--service', '--config', cfg]);
      expect(issued.code, issued.stderr).toBe(0);
      expect(issued.stdout.trim().split('\n').at(-1)).toMatch(/^alk_/);
      const list = await run(process.execPath, [BIN, 'tokens', 'list', '--config', cfg]);
      expect(list.code, list.stderr).toBe(0);
      expect(list.stdout).toMatch(/ci\tservice\tagents/);
      const bad = await run(process.execPath, [BIN, 'sessions', 'show', 'nope', '--config', cfg]);
      expect(bad.code).toBe(4); // not found (was 1, the code of every failure, before exit codes were distinct)
      expect(bad.stderr).toContain('no session nope');
      const unknown = await run(process.execPath, [BIN, 'frobnicate']);
      expect(unknown.code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gateway prints its listeners and the web console address, serves the console there and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-bin-'));
    try {
      const cfg = join(dir, 'airlock.yaml');
      writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\nlisten:\n  api: 127.0.0.1:${await freePort()}\n  postgres: 127.0.0.1:${await freePort()}\n`);
      const child = spawn(process.execPath, [BIN, 'gateway', '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 20_000;
      while (!/Web console: +(http:\S+)/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const url = /Web console: +(http:\S+)/.exec(err)?.[1];
      expect(url, err).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(url!);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<script[^>]+src="\/assets\//);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(err).toContain('shutting down');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
