import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  startPgBouncer,
  startPostgres,
  startSshd,
  waitForPort,
} from './index.ts';
import type { PgBouncerServer, PgServer, SshdServer } from './index.ts';

const T = { timeout: 60_000 };

async function query(config: pg.ClientConfig, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionTimeoutMillis: 10_000, ...config });
  await client.connect();
  try {
    return (await client.query(text)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('ports and waiting', () => {
  it('freePort returns a bindable port and waitForPort times out on it', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    await expect(waitForPort(port, { timeoutMs: 200 })).rejects.toThrow(/timed out/);
  });
});

describe('postgres (plain)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  it('admin can connect with pg and psql', T, async () => {
    const rows = await query(
      { host: server.host, port: server.port, user: server.superuser, password: server.password, database: server.database },
      'select current_user as u, version() as v',
    );
    expect(rows[0]?.u).toBe('admin');
    expect(String(rows[0]?.v)).toMatch(/PostgreSQL/);
    expect(await server.sql('select 40 + 2')).toBe('42');
    const r = await server.psql(['-At', '-f', '-'], { input: 'select 1;\nselect 2;\n' });
    expect(r).toMatchObject({ code: 0, stdout: '1\n2\n' });
    await expect(server.sql('select * from no_such_table')).rejects.toThrow(/no_such_table/);
  });

  it('pg_hba assigns one auth method per test user', T, async () => {
    const out = await server.sql(
      "select array_to_string(user_name, ','), auth_method from pg_hba_file_rules where type = 'host' and address = '127.0.0.1' order by line_number",
    );
    expect(out.split('\n')).toEqual([
      'u_trust|trust',
      'u_cleartext|password',
      'u_md5|md5',
      'all|scram-sha-256',
    ]);
  });

  it('passwords are stored in the expected format', T, async () => {
    const out = await server.sql(
      "select rolname || '=' || coalesce(rolpassword, '<null>') from pg_authid where rolname in ('u_md5', 'u_scram') order by rolname",
    );
    const [md5, scram] = out.split('\n');
    expect(md5).toMatch(/^u_md5=md5[0-9a-f]{32}$/);
    expect(scram).toMatch(/^u_scram=SCRAM-SHA-256\$/);
  });

  it('each test user can log in with its method', T, async () => {
    const base = { host: server.host, port: server.port, database: server.database };
    for (const cred of [server.users.scram, server.users.md5, server.users.cleartext]) {
      const rows = await query({ ...base, ...cred }, 'select current_user as u');
      expect(rows[0]?.u).toBe(cred.user);
      await expect(query({ ...base, user: cred.user, password: 'wrong' }, 'select 1')).rejects.toThrow(
        /password authentication failed/,
      );
    }
    const rows = await query({ ...base, user: server.users.trust.user }, 'select current_user as u');
    expect(rows[0]?.u).toBe('u_trust');
  });

  it('test users can create tables in public', T, async () => {
    const cred = server.users.md5;
    const config = { host: server.host, port: server.port, database: server.database, ...cred };
    await query(config, 'create table harness_t (id int primary key)');
    const rows = await query(config, 'insert into harness_t values (1) returning id');
    expect(rows[0]?.id).toBe(1);
  });

  it('pid() is the live postmaster', T, async () => {
    const pid = server.pid();
    expect(pid).toBeGreaterThan(1);
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(await server.sql("select setting from pg_settings where name = 'port'")).toBe(String(server.port));
  });
});

describe('postgres (tls)', () => {
  let server: PgServer;
  beforeAll(async () => {
    server = await startPostgres({ tls: true, settings: { max_connections: '30' } });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  }, 60_000);

  it('accepts verified TLS connections', T, async () => {
    expect(server.tls).toBeDefined();
    const ca = await readFile(server.tls!.caFile, 'utf8');
    const rows = await query(
      {
        host: server.host,
        port: server.port,
        database: server.database,
        ...server.users.scram,
        ssl: { ca, servername: 'localhost', rejectUnauthorized: true },
      },
      'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
    );
    expect(rows[0]?.ssl).toBe(true);
    expect(await server.sql('show max_connections')).toBe('30');
  });

  it('the certificate is valid for 127.0.0.1 too', T, async () => {
    const ca = await readFile(server.tls!.caFile, 'utf8');
    const rows = await query(
      { host: server.host, port: server.port, database: server.database, ...server.users.md5, ssl: { ca } },
      'select ssl from pg_stat_ssl where pid = pg_backend_pid()',
    );
    expect(rows[0]?.ssl).toBe(true);
  });
});

describe('postgres kill/stop', () => {
  it('kill() makes the server die, stop() cleans up and is idempotent', T, async () => {
    const server = await startPostgres();
    const config = { host: server.host, port: server.port, database: server.database, ...server.users.scram };
    const client = new pg.Client(config);
    await client.connect();
    client.on('error', () => {});
    await server.kill();
    await expect(client.query('select 1')).rejects.toThrow();
    await expect(query(config, 'select 1')).rejects.toThrow(/ECONNREFUSED/);
    await server.stop();
    await server.stop();
    expect(existsSync(server.dir)).toBe(false);
  });
});

describe('pgbouncer', () => {
  let server: PgServer;
  let bouncer: PgBouncerServer;
  beforeAll(async () => {
    server = await startPostgres();
    bouncer = await startPgBouncer({
      host: server.host,
      port: server.port,
      user: server.users.scram.user,
      password: server.users.scram.password,
      database: server.database,
    });
  }, 60_000);
  afterAll(async () => {
    await bouncer?.stop();
    await server?.stop();
  }, 60_000);

  it('proxies queries to the target', T, async () => {
    const rows = await query(
      { host: '127.0.0.1', port: bouncer.port, database: 'postgres', ...server.users.scram },
      'select current_user as u, inet_server_port() as p',
    );
    expect(rows[0]).toEqual({ u: 'u_scram', p: server.port });
    await expect(
      query({ host: '127.0.0.1', port: bouncer.port, database: 'postgres', user: 'u_scram', password: 'nope' }, 'select 1'),
    ).rejects.toThrow();
  });
});

describe('sshd', () => {
  let sshd: SshdServer;
  beforeAll(async () => {
    sshd = await startSshd();
  }, 60_000);
  afterAll(async () => {
    await sshd?.stop();
  }, 60_000);

  const sshArgs = (): string[] => [
    '-i', sshd.clientKeyFile,
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-p', String(sshd.port),
  ];

  it('accepts key login and runs a command', T, async () => {
    const r = await sh('ssh', [
      ...sshArgs(),
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      `${sshd.user}@127.0.0.1`,
      'echo hi',
    ]);
    expect(r.stderr).not.toMatch(/denied/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('hi\n');
  });

  it('host key matches the provided known_hosts entry', T, async () => {
    expect(sshd.hostPublicKey).toMatch(/^ssh-ed25519 \S+$/);
    const r = await sh('ssh', [
      ...sshArgs(),
      '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${sshd.knownHostsFile}`,
      `${sshd.user}@127.0.0.1`,
      'whoami',
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(sshd.user);
  });

  it('rejects an unknown key', T, async () => {
    const r = await sh('ssh', [
      '-i', sshd.hostKeyFile,
      '-o', 'BatchMode=yes',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-p', String(sshd.port),
      `${sshd.user}@127.0.0.1`,
      'echo hi',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Permission denied/);
  });
});
