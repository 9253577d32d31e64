#!/usr/bin/env node
// Makes sure the system packages the integration tests need are installed.
// Silent and fast when everything is present. As root, installs whatever is
// missing with apt-get; otherwise prints the command to run and exits 1.
import { execFile, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findExecutable(name, extraDirs = []) {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), ...SBIN_DIRS, ...extraDirs];
  for (const dir of dirs) {
    if (!dir || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function run(file, args) {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout) => {
      resolve({ ok: !err, stdout: stdout ?? '' });
    });
  });
}

async function pgBinDir() {
  const pgConfig = findExecutable('pg_config');
  if (!pgConfig) return undefined;
  const r = await run(pgConfig, ['--bindir']);
  return r.ok ? r.stdout.trim() : undefined;
}

/** Returns the list of Debian packages that are missing, in a stable order. */
async function missingPackages() {
  const [binDir, psycopg2] = await Promise.all([
    pgBinDir(),
    run('/usr/bin/python3', ['-c', 'import psycopg2']),
  ]);
  const pgDirs = binDir ? [binDir] : [];
  const has = (name, dirs = []) => findExecutable(name, dirs) !== undefined;
  const inPgBin = (name) => binDir !== undefined && isExecutable(path.join(binDir, name));

  const checks = [
    ['postgresql', inPgBin('initdb') && inPgBin('pg_ctl') && inPgBin('postgres')],
    ['postgresql-client', has('psql', pgDirs)],
    ['postgresql-contrib', has('pgbench', pgDirs)],
    ['pgbouncer', has('pgbouncer')],
    ['openssh-server', has('sshd')],
    ['openssh-client', has('ssh') && has('scp') && has('sftp') && has('ssh-keygen')],
    ['python3-psycopg2', psycopg2.ok],
    ['openssl', has('openssl')],
    ['jq', has('jq')],
    ['tmux', has('tmux')],
    ['rsync', has('rsync')],
    ['chromium', has('chromium')],
  ];
  return checks.filter(([, ok]) => !ok).map(([pkg]) => pkg);
}

function aptGet(args) {
  const r = spawnSync('apt-get', args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) {
    console.error(`system-deps: could not run apt-get: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    console.error(`system-deps: apt-get ${args[0]} failed with exit code ${r.status}`);
    process.exit(r.status ?? 1);
  }
}

const missing = await missingPackages();
if (missing.length === 0) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot) {
  console.error(`Missing system packages. Install them with: sudo apt-get install -y ${missing.join(' ')}`);
  process.exit(1);
}

console.error(`system-deps: installing ${missing.join(' ')}`);
aptGet(['update']);
aptGet(['install', '-y', '--no-install-recommends', ...missing]);

const stillMissing = await missingPackages();
if (stillMissing.length > 0) {
  console.error(`system-deps: still missing after install: ${stillMissing.join(' ')}`);
  process.exit(1);
}
