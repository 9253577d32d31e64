import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgServer } from '../harness/postgres.ts';
import { startGateway, pgConnection, type TestGateway } from '../harness/gateway.ts';
import { psql } from '../harness/clients.ts';
import { runCli } from '../harness/cli.ts';
import { isLoopback } from '../../src/protocols/common/net.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

let server: PgServer;
let gw: TestGateway;

beforeAll(async () => {
  server = await startPostgres({ tls: true });
  gw = await startGateway({
    connections: {
      verified: pgConnection(server, { tls: { mode: 'verify-full', ca: server.tls!.caFile, serverName: 'localhost' } }),
      required: pgConnection(server, { tls: { mode: 'require' } }),
      plain: pgConnection(server),
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await server?.stop();
});

describe('TLS toward the target', () => {
  it.each(['verified', 'required'])('%s: the target session is encrypted', async (db) => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: db }, ['-At', '-c', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('t');
  });

  it('plain: not encrypted (the harness server allows both)', async () => {
    const token = await gw.token('alice', ['dba']);
    const r = await psql({ port: gw.pgPort, user: 'alice', password: token, database: 'plain' }, ['-At', '-c', 'select ssl from pg_stat_ssl where pid = pg_backend_pid()']);
    expect(r.stdout.trim()).toBe('f');
  });

  it('verify-full refuses a certificate for another name', async () => {
    const g = await startGateway({ connections: { bad: pgConnection(server, { tls: { mode: 'verify-full', ca: server.tls!.caFile, serverName: 'db.example.com' } }) } });
    try {
      const token = await g.token('alice', ['dba']);
      const r = await psql({ port: g.pgPort, user: 'alice', password: token, database: 'bad' }, ['-c', 'select 1']);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/TLS to target failed/);
    } finally {
      await g.stop();
    }
  });
});

describe('CLI against the local data dir', () => {
  it('tokens issue prints the token last; sessions list/show/search show the statements', async () => {
    const cfg = join(gw.dataDir, 'airlock.yaml');
    writeFileSync(cfg, `dataDir: ${gw.dataDir}\n`);
    const issued = await runCli(['tokens', 'issue', '--subject', 'carol', '--groups', 'dba', '--ttl', '1h', '--config', cfg]);
    expect(issued.code).toBe(0);
    const token = issued.out.trim().split('\n').at(-1)!;
    expect(token).toMatch(/^alk_/);
    const r = await psql({ port: gw.pgPort, user: 'carol', password: token, database: 'plain' }, ['-c', "select 'needle-in-haystack' as x"]);
    expect(r.code).toBe(0);
    let id = '';
    for (let i = 0; i < 100 && !id; i++) {
      const list = await runCli(['sessions', 'list', '--user', 'carol', '--json', '--config', cfg]);
      id = (JSON.parse(list.out) as { id: string; endedAt: number | null }[]).find((s) => s.endedAt)?.id ?? '';
      if (!id) await new Promise((res) => setTimeout(res, 20));
    }
    const show = await runCli(['sessions', 'show', id, '--config', cfg]);
    expect(show.out).toContain("select 'needle-in-haystack' as x");
    expect(show.out).toContain('SELECT 1, 1 rows');
    expect(show.out).toContain('needle-in-haystack');
    const audit = await gw.gw.store.listAudit({ target: id });
    expect(audit.some((a) => a.action === 'session.view' && a.subject.startsWith('local:'))).toBe(true);
    const search = await runCli(['sessions', 'list', '--search', 'needle-in-haystack', '--config', cfg]);
    expect(search.out).toContain(id);
    const tokens = await runCli(['tokens', 'list', '--config', cfg]);
    expect(tokens.out).toContain('carol');
    expect(tokens.out).not.toContain(token);
  });
});

describe('loopback detection', () => {
  it.each([
    ['127.0.0.1', true], ['127.8.9.10', true], ['::1', true], ['::ffff:127.0.0.1', true],
    ['10.0.0.5', false], ['::ffff:10.0.0.5', false], ['192.168.1.1', false], ['fe80::1', false], [undefined, false], ['127.0.0.1.evil', false],
  ])('%s → %s', (addr, expected) => {
    expect(isLoopback(addr as string | undefined)).toBe(expected);
  });
});
