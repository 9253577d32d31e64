import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.ts';
import { AIRLOCK_BIN as BIN, airlockIn as airlock, cleanEnv, runCli } from '../harness/cli.ts';


const COMMANDS = ['gateway', 'login', 'logout', 'whoami', 'tokens', 'ssh-keys', 'sessions', 'locks', 'replay', 'events', 'reviews', 'access', 'connect', 'demo', 'verify', 'export', 'checkpoint'];

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-exit-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** One line, no stack trace. */
function oneLine(stderr: string): void {
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('the CLI says what went wrong, with an exit status per kind of mistake', () => {
  it('--help describes every command and its subcommands, and does nothing else', async () => {
    for (const cmd of COMMANDS) {
      for (const args of [[cmd, '--help'], [cmd, '-h'], [cmd, 'list', '--help']]) {
        const r = await runCli(args);
        expect(r.code, `${args.join(' ')}: ${r.err}`).toBe(0);
        expect(r.out, args.join(' ')).toContain(`airlock ${cmd === 'logout' ? 'login' : cmd === 'access' ? 'reviews' : cmd}`);
      }
    }
    // Through the executable: `demo --help` starts no demo, `gateway --help` no gateway, and nothing is created.
    await withDir(async (dir) => {
      for (const cmd of ['gateway', 'demo']) {
        const r = await airlock([cmd, '--help'], dir);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toContain(`airlock ${cmd}`);
      }
      expect(existsSync(join(dir, '.airlock'))).toBe(false);
      expect(existsSync(join(dir, '.airlock-demo'))).toBe(false);
    });
  });

  it('outside a gateway folder a command refuses to create a store and names the config and data dir it used (exit 5)', async () => {
    await withDir(async (dir) => {
      const r = await airlock(['tokens', 'issue', '--subject', 'alice'], dir);
      expect(r.code).toBe(5);
      oneLine(r.stderr);
      expect(r.stderr).toContain(`data dir ${join(dir, '.airlock')}`);
      expect(r.stderr).toMatch(/config none/);
      expect(r.stdout).toBe('');
      expect(existsSync(join(dir, '.airlock'))).toBe(false);
    });
  });

  it('ordinary mistakes are one line each: usage 2, not found 4', async () => {
    await withDir(async (dir) => {
      await openStore(join(dir, '.airlock')).close();
      // Through the executable once: one line on stderr, no stack trace.
      const ttl = await airlock(['tokens', 'issue', '--subject', 'a', '--ttl', 'abc'], dir);
      expect(ttl.code).toBe(2);
      oneLine(ttl.stderr);
      const cfg = join(dir, 'airlock.yaml');
      writeFileSync(cfg, `dataDir: ${join(dir, '.airlock')}\n`);
      for (const args of [['sessions', 'list', '--limit', 'abc'], ['sessions', 'list', '--outcome', 'nope'], ['sessions', 'list', '--bogus'], ['events', '--since', 'soon']]) {
        const r = await runCli([...args, '--config', cfg]);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.err.split('\n'), args.join(' ')).toHaveLength(1);
      }
      expect((await runCli(['sessions', 'show', 'ses_nope', '--config', cfg])).code).toBe(4);
      expect((await runCli(['tokens', 'revoke', 'tok_nope', '--config', cfg])).code).toBe(4);
    });
  });

  it('output closed early (| head) ends quietly with 141', async () => {
    await withDir(async (dir) => {
      const data = join(dir, '.airlock');
      await openStore(data).close();
      writeFileSync(join(dir, 'airlock.yaml'), `dataDir: ${data}\n`);
      for (let i = 0; i < 3; i++) expect((await runCli(['tokens', 'issue', '--subject', `u${i}`, '--config', join(dir, 'airlock.yaml')])).code).toBe(0);
      // The reader goes away before the CLI writes (as `head` does once it has its lines).
      const child = spawn(process.execPath, [BIN, 'tokens', 'list', '--json'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
      child.stdout.destroy();
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(141);
      expect(err).toBe('');
    });
  });

  it('a listen address in use is one line and exit 6', async () => {
    await withDir(async (dir) => {
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      try {
        const port = (busy.address() as { port: number }).port;
        writeFileSync(join(dir, 'airlock.yaml'), `listen:\n  api: 127.0.0.1:${port}\n  postgres: 127.0.0.1:0\n`);
        const r = await airlock(['gateway'], dir);
        expect(r.code).toBe(6);
        oneLine(r.stderr.split('\n').filter((l) => l.startsWith('airlock gateway:')).join('\n'));
        expect(r.stderr).toContain(`address already in use 127.0.0.1:${port}`);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      } finally {
        busy.close();
      }
    });
  });

  it('a command reads only the secrets of the connections it uses', async () => {
    await withDir(async (dir) => {
      await openStore(join(dir, '.airlock')).close();
      writeFileSync(join(dir, 'airlock.yaml'), 'connections:\n  prod:\n    type: postgres\n    host: 10.0.0.5\n    database: app\n    user: app\n    password: ${env:AIRLOCK_TEST_UNSET_PASSWORD}\n    allow: [dba]\n');
      const r = await airlock(['tokens', 'issue', '--subject', 'alice', '--groups', 'dba'], dir);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`config ${join(dir, 'airlock.yaml')}, data dir ${join(dir, '.airlock')}`);
      // The gateway serves every connection and so reads every secret: there the missing one is a config error.
      const gw = await airlock(['gateway'], dir);
      expect(gw.code).toBe(5);
      expect(gw.stderr).toContain('AIRLOCK_TEST_UNSET_PASSWORD is not set');
    });
  });
});
