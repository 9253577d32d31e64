import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { psql } from '../harness/clients.ts';
import { freePort } from '../harness/ports.ts';
import { postgresBinDir } from '../../src/cli/demo-postgres.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'airlock.js');

describe.skipIf(!postgresBinDir())('npm run demo', () => {
  it('listens on --port, serves the console, masks live for analysts and keeps its recordings after Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-demo-test-'));
    try {
      const port = await freePort();
      const child = spawn(process.execPath, [BIN, 'demo', '--port', String(port)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.resume();
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const deadline = Date.now() + 60_000;
      while (!out.includes('Recordings:') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const token = (user: string) => new RegExp(`PGPASSWORD=(\\S+) psql "host=127\\.0\\.0\\.1 port=${port} dbname=demo user=${user}"`).exec(out)?.[1];
      expect(token('alice'), out).toMatch(/^alk_/);
      expect(out).not.toMatch(/password=alk_/);
      const bob = await psql({ port, user: 'bob', password: token('bob')!, database: 'demo' }, ['-At', '-c', 'select email from customers order by id']);
      expect(bob.stdout.trim().split('\n')).toEqual(['[EMAIL]', '[EMAIL]']);
      const alice = await psql({ port, user: 'alice', password: token('alice')!, database: 'demo' }, ['-At', '-c', 'select email from customers order by id']);
      expect(alice.stdout).toContain('ada@example.com');
      const url = /Web console: (http:\S+)/.exec(out)![1];
      expect((await fetch(url)).status).toBe(200);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(join(dir, '.airlock-demo', 'airlock.db'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
