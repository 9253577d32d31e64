/**
 * PostgreSQL throughput through Airlock, compared in the same run with a direct connection, with
 * PgBouncer (session pooling) in front of the same server, and with a bare Node.js TCP relay.
 *
 *   npx tsx bench/pgbench.ts [--duration 10] [--scale 10] [--large-mb 500] [--large-runs 2] [--large-copy] [--quick [--clients N]] [--rate TPS]
 *
 * --quick runs only select-only, simple protocol, 8 clients (the row where the gateway's CPU decides; --clients
 * changes the number, 1 for latency) and skips the large result: a check after a change in a minute. --rate
 * holds every path at that many transactions per second (pgbench -R) instead of as many as it can: the machine
 * is then not saturated, so the proxy's CPU per transaction moves much less between runs, which makes it the
 * figure to compare two revisions by (throughput and ratios then say nothing). AIRLOCK_BENCH_GATEWAY_NODE_ARGS
 * (split at spaces) go to the gateway's node before the script, e.g. `--cpu-prof --cpu-prof-dir=DIR` to
 * profile it. --large-copy sends the large result as `COPY … TO STDOUT` (CopyData) instead of a query's rows.
 *
 * Starts an ephemeral PostgreSQL and a PgBouncer with the test harness, a bare Node.js TCP relay as a reference
 * (bench/tcp-relay.mjs: copies bytes, parses and records nothing), runs the Airlock gateway as a separate process (`node bin/airlock.js gateway`) with a temporary data dir (recording on, as always),
 * then runs pgbench (select-only, simple and extended protocol, 1 and 8 clients; TPC-B-like at 8 clients)
 * and a large-result psql query against each path (sampling the gateway's RSS meanwhile), and last
 * `pgbench -i -I dtg` (its rows sent as COPY FROM STDIN) through each path. For every
 * measurement it also reports the proxy's CPU time and how much CPU processes outside the benchmark used.
 * Prints markdown tables and writes the results as JSON into the OS temp dir (`airlock-bench/`).
 * Everything it started is stopped again, also on error or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { pgbouncerBin, startPgBouncer, type PgBouncerServer } from '../test/harness/pgbouncer.ts';
import { pgBinDir, run, startPostgres, type PgServer } from '../test/harness/postgres.ts';
import { freePort } from '../test/harness/ports.ts';
import { canConnect, waitFor } from '../test/harness/wait.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AIRLOCK_BIN = path.join(ROOT, 'bin', 'airlock.js');
const SUBJECT = 'bench';
const CONNECTION = 'bench';
/** Bytes psql prints per row of `select repeat('x', 100)` in -At mode: 100 characters and a newline. */
const LARGE_ROW_BYTES = 101;

// ---- options ------------------------------------------------------------------------------------

const { values: argv } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    scale: { type: 'string', default: '10' },
    'large-mb': { type: 'string', default: '500' },
    'large-runs': { type: 'string', default: '2' },
    'large-copy': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    rate: { type: 'string' },
    clients: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (argv.help) {
  process.stdout.write('usage: npx tsx bench/pgbench.ts [--duration SECONDS] [--scale N] [--large-mb MB] [--large-runs N] [--large-copy] [--quick [--clients N]] [--rate TPS]\n');
  process.exit(0);
}
const DURATION = positiveInt('duration', argv.duration!);
const SCALE = positiveInt('scale', argv.scale!);
const LARGE_MB = positiveInt('large-mb', argv['large-mb']!);
const LARGE_RUNS = positiveInt('large-runs', argv['large-runs']!);
const LARGE_COPY = argv['large-copy'] === true;
const QUICK = argv.quick === true;
const QUICK_CLIENTS = positiveInt('clients', argv.clients!);
const RATE = argv.rate === undefined ? undefined : positiveInt('rate', argv.rate);

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(2);
  }
  return n;
}

// ---- types --------------------------------------------------------------------------------------

type PathName = 'direct' | 'pgbouncer' | 'node-relay' | 'airlock';
/** `node-relay` is bench/tcp-relay.mjs: a bare Node.js TCP relay, the least any relay on the event loop costs. */
const PATHS: PathName[] = ['direct', 'pgbouncer', 'node-relay', 'airlock'];

interface Endpoint {
  port: number;
  user: string;
  password: string;
  database: string;
}

interface PgbenchResult {
  path: PathName;
  workload: 'select-only' | 'tpcb-like';
  mode: 'simple' | 'extended';
  clients: number;
  threads: number;
  durationS: number;
  tps: number;
  latencyMs: number | null;
  transactions: number | null;
  failed: number | null;
  ratioToDirect?: number;
  /** CPU time (user + system) the proxy process used during the run. */
  proxyCpuS?: number;
  /** proxyCpuS per transaction, in microseconds. */
  proxyCpuUsPerTxn?: number;
  /** CPU used by processes outside the benchmark during the run, % of the whole machine. */
  otherCpuPct?: number;
}

interface CopyInResult {
  path: PathName;
  rows: number;
  /** Best of `runs`. */
  seconds: number;
  allSeconds: number[];
  ratioToDirect?: number;
  proxyCpuS?: number;
  otherCpuPct?: number;
}

interface LargeResult {
  path: PathName;
  rows: number;
  bytes: number;
  seconds: number;
  mbPerS: number;
  /** Best of `runs`. */
  runs: number;
  allSeconds: number[];
  ratioToDirect?: number;
  proxyCpuS?: number;
  otherCpuPct?: number;
  rssBeforeMiB?: number;
  rssPeakMiB?: number;
}

// ---- helpers ------------------------------------------------------------------------------------

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** A clean libpq environment: no inherited PG* variables, no TLS (so every path is plain TCP). */
function pgEnv(password: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PG')) env[k] = v;
  env.PGPASSWORD = password;
  env.PGSSLMODE = 'disable';
  env.PGCONNECT_TIMEOUT = '10';
  return env;
}

function connArgs(e: Endpoint): string[] {
  return ['-h', '127.0.0.1', '-p', String(e.port), '-U', e.user];
}

function readRssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

let clockTicks: number | undefined;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
async function cpuSeconds(pid: number): Promise<number | undefined> {
  if (clockTicks === undefined) {
    const r = await run('getconf', ['CLK_TCK']).catch(() => undefined);
    clockTicks = Number(r?.stdout.trim()) || 100;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks of the whole machine from the first line of /proc/stat: `proc` is time in processes (user, nice,
 * system), `busy` adds interrupts and steal, `total` adds idle and iowait.
 */
function machineTicks(): { proc: number; busy: number; total: number } | undefined {
  try {
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    const proc = user! + nice! + system!;
    const busy = proc + irq! + softirq! + steal!;
    return { proc, busy, total: busy + idle! + iowait! };
  } catch {
    return undefined;
  }
}

/**
 * CPU ticks used so far by the processes of this benchmark: this process and its descendants (pgbench,
 * psql, PgBouncer, the gateway) and the PostgreSQL server tree. utime + stime + cutime + cstime, so
 * children that already exited and were reaped (pgbench, finished backends) are included.
 */
function benchTreeTicks(roots: number[]): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
      procs.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]) });
    } catch {
      // exited meanwhile
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, p] of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), pid]);
  let total = 0;
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    total += procs.get(pid)?.ticks ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/**
 * Measures how much CPU processes outside the benchmark used between start() and the returned stop():
 * a share of the whole machine (all CPUs), in percent. It says how far other load may have distorted a figure.
 */
function otherCpu(roots: () => number[]): () => number | undefined {
  const m0 = machineTicks();
  const b0 = benchTreeTicks(roots());
  return () => {
    const m1 = machineTicks();
    const b1 = benchTreeTicks(roots());
    if (!m0 || !m1 || m1.total === m0.total) return undefined;
    const other = m1.proc - m0.proc - (b1 - b0);
    return round(Math.max(0, (100 * other) / (m1.total - m0.total)), 1);
  };
}

/** Share of all CPUs' time spent idle over `ms` (from /proc/stat). */
async function idleShare(ms: number): Promise<number | undefined> {
  const a = machineTicks();
  await sleep(ms);
  const b = machineTicks();
  if (!a || !b || b.total === a.total) return undefined;
  return 1 - (b.busy - a.busy) / (b.total - a.total);
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    total += entry.isDirectory() ? await dirBytes(p) : (await stat(p)).size;
  }
  return total;
}

/** The commit measured, and whether the gateway's sources differed from it (read-only git commands). */
async function sourceRevision(): Promise<{ commit: string; modified: boolean | null } | null> {
  const head = await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).catch(() => undefined);
  if (!head || head.code !== 0) return null;
  const diff = await run('git', ['diff', '--quiet', 'HEAD', '--', 'src', 'bin', 'package.json'], { cwd: ROOT }).catch(() => undefined);
  return { commit: head.stdout.trim(), modified: diff ? diff.code === 1 : null };
}

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await run(cmd, args);
    return (r.stdout || r.stderr).split('\n')[0]!.trim();
  } catch {
    return 'unknown';
  }
}

// ---- the Airlock gateway as a separate process --------------------------------------------------

interface GatewayProcess {
  port: number;
  pid: number;
  dir: string;
  dataDir: string;
  configFile: string;
  logFile: string;
  child: ChildProcess;
  /** SIGTERM (the gateway ends sessions and seals recordings) and wait for the exit; keeps the data dir. */
  shutdown(): Promise<void>;
  /** shutdown() and remove the temp dir. */
  stop(): Promise<void>;
}

function airlockCli(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [AIRLOCK_BIN, ...args], { cwd: ROOT, env, timeoutMs: 60_000 });
}

async function startAirlock(pg: PgServer): Promise<GatewayProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-bench-gw-'));
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'airlock.yaml');
  const logFile = path.join(dir, 'gateway.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    // JSON is valid YAML: no quoting surprises for the generated password.
    const config = {
      dataDir,
      listen: { postgres: `127.0.0.1:${port}` },
      connections: {
        [CONNECTION]: {
          type: 'postgres', host: pg.host, port: pg.port, database: pg.database,
          user: pg.superuser, password: pg.password, allow: [CONNECTION], allowSuperuser: true,
        },
      },
    };
    await writeFile(configFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
    const fd = openSync(logFile, 'a');
    const nodeArgs = process.env.AIRLOCK_BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const child = spawn(process.execPath, [...nodeArgs, AIRLOCK_BIN, 'gateway', '--config', configFile], {
      cwd: ROOT,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, AIRLOCK_LOG_LEVEL: process.env.AIRLOCK_LOG_LEVEL ?? 'warn' },
    });
    closeSync(fd);
    let done = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        done = true;
        resolve();
      });
      child.once('error', () => {
        done = true;
        resolve();
      });
    });
    liveChildren.add(child);
    try {
      await waitFor(async () => {
        if (done) throw new Error('gateway exited');
        return canConnect(port);
      }, { timeoutMs: 30_000, intervalMs: 100, description: `airlock gateway on port ${port}` });
    } catch (err) {
      if (!done) child.kill('SIGKILL');
      await exited;
      liveChildren.delete(child);
      const out = readFileSync(logFile, 'utf8');
      if (attempt < 3 && /EADDRINUSE/.test(out)) continue;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`airlock gateway did not start (${(err as Error).message}):\n${out.slice(-4000)}`);
    }
    let shuttingDown: Promise<void> | undefined;
    const shutdown = (): Promise<void> => {
      shuttingDown ??= (async () => {
        if (!done) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          await exited;
          clearTimeout(timer);
        }
        liveChildren.delete(child);
      })();
      return shuttingDown;
    };
    const stop = async (): Promise<void> => {
      await shutdown();
      await rm(dir, { recursive: true, force: true });
    };
    return { port, pid: child.pid!, dir, dataDir, configFile, logFile, child, shutdown, stop };
  }
}

async function issueToken(gw: GatewayProcess): Promise<string> {
  const r = await airlockCli(['tokens', 'issue', '--subject', SUBJECT, '--groups', CONNECTION, '--ttl', '8h', '--config', gw.configFile]);
  const token = r.stdout.trim().split('\n').pop()?.trim();
  const issued = /^issued /m.test(r.stderr);
  if (!token || (r.code !== 0 && !issued)) throw new Error(`airlock tokens issue failed (${r.code}): ${r.stderr}`);
  // The token is in the store once "issued" is reported; a later failure (e.g. while closing) is reported, not fatal.
  if (r.code !== 0) log(`warning: airlock tokens issue printed a token but exited with code ${r.code}`);
  tokenCliExitCode = r.code;
  return token;
}

let tokenCliExitCode: number | undefined;

/** Sessions and events in the gateway's store (read after the gateway has exited). */
function recordingSummary(dataDir: string): { sessions: number; events: number; ended: number; storeMiB?: number } {
  const db = new Database(path.join(dataDir, 'airlock.db'), { readonly: true });
  try {
    const row = db
      .prepare('select count(*) as sessions, coalesce(sum(event_count), 0) as events, count(ended_at) as ended from sessions')
      .get() as { sessions: number; events: number; ended: number };
    return { ...row };
  } finally {
    db.close();
  }
}

/** Starts bench/tcp-relay.mjs in front of the server on a free port. */
async function startTcpRelay(targetPort: number): Promise<ChildProcess & { port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'bench', 'tcp-relay.mjs'), String(port), String(targetPort)], { stdio: ['ignore', 'pipe', 'inherit'] });
  liveChildren.add(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`tcp-relay exited (${code})`)));
  });
  return Object.assign(child, { port });
}

// ---- cleanup, also on Ctrl-C ------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
/** Process trees that belong to the benchmark (this process; the PostgreSQL server once started). */
const benchRoots: number[] = [process.pid];
const benchRootsNow = (): number[] => benchRoots;
const cleanups: Array<() => Promise<void>> = [];

async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      log(`cleanup: ${(err as Error).message}`);
    }
  }
}

process.on('exit', () => {
  for (const c of liveChildren) {
    try {
      c.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});
let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    interrupted = true;
    log(`\n${sig}: stopping everything`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

// ---- measurements -------------------------------------------------------------------------------

async function pgbench(
  pathName: PathName,
  e: Endpoint,
  opts: { workload: PgbenchResult['workload']; mode: PgbenchResult['mode']; clients: number; duration: number; rate?: number },
  proxyPid?: number,
): Promise<PgbenchResult> {
  const threads = Math.min(opts.clients, 2);
  const args = [
    '-n', '-T', String(opts.duration), '-c', String(opts.clients), '-j', String(threads), '-M', opts.mode,
    ...(opts.rate ? ['-R', String(opts.rate)] : []),
    ...(opts.workload === 'select-only' ? ['-S'] : []), ...connArgs(e), e.database,
  ];
  const m = await measured(proxyPid, () =>
    run(path.join(pgBinDir(), 'pgbench'), args, { env: pgEnv(e.password), inheritEnv: false, timeoutMs: (opts.duration + 60) * 1000 }),
  );
  const r = m.value;
  const tps = /tps = ([\d.]+) \(without initial connection time\)/.exec(r.stdout);
  if (r.code !== 0 || !tps) {
    throw new Error(`pgbench ${args.join(' ')} via ${pathName} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const num = (re: RegExp): number | null => {
    const m = re.exec(r.stdout);
    return m ? Number(m[1]) : null;
  };
  const result: PgbenchResult = {
    path: pathName, workload: opts.workload, mode: opts.mode, clients: opts.clients, threads, durationS: opts.duration,
    tps: Number(tps[1]),
    latencyMs: num(/latency average = ([\d.]+) ms/),
    transactions: num(/number of transactions actually processed: (\d+)/),
    failed: num(/number of failed transactions: (\d+)/),
  };
  if (m.otherCpuPct !== undefined) result.otherCpuPct = m.otherCpuPct;
  if (m.proxyCpuS !== undefined) {
    result.proxyCpuS = round(m.proxyCpuS, 2);
    if (result.transactions) result.proxyCpuUsPerTxn = round((m.proxyCpuS * 1e6) / result.transactions, 1);
  }
  return result;
}

/** Runs `f`, timing it, with the proxy's CPU seconds (all its threads) and other processes' CPU share meanwhile. */
async function measured<T>(proxyPid: number | undefined, f: () => Promise<T>): Promise<{ value: T; seconds: number; proxyCpuS?: number; otherCpuPct?: number }> {
  const cpuBefore = proxyPid ? await cpuSeconds(proxyPid) : undefined;
  const others = otherCpu(benchRootsNow);
  const started = process.hrtime.bigint();
  const value = await f();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpuAfter = proxyPid ? await cpuSeconds(proxyPid) : undefined;
  const otherCpuPct = others();
  const proxyCpuS = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
  return { value, seconds, proxyCpuS, otherCpuPct };
}

/** The run that took least time. */
function fastest<T extends { seconds: number }>(all: T[]): T {
  return all.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

/** The large result: rows of 100 bytes, as a query's DataRows or, with --large-copy, as COPY's CopyData. */
function largeSql(rows: number): string {
  const select = `select repeat('x', 100) from generate_series(1, ${rows})`;
  return LARGE_COPY ? `copy (${select}) to stdout` : select;
}

/** Runs psql on a large result with its output going to /dev/null; samples the gateway's RSS meanwhile. */
async function largeResultOnce(pathName: PathName, e: Endpoint, rows: number, proxyPid?: number, rssPid?: number): Promise<LargeResult> {
  const sql = largeSql(rows);
  const args = ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', ...connArgs(e), '-d', e.database, '-c', sql];
  const rssBefore = rssPid ? readRssKiB(rssPid) : undefined;
  let rssPeak = rssBefore ?? 0;
  const sampler = rssPid
    ? setInterval(() => {
        const v = readRssKiB(rssPid);
        if (v !== undefined && v > rssPeak) rssPeak = v;
      }, 100)
    : undefined;
  let stderr = '';
  const m = await measured(proxyPid, () =>
    new Promise<number>((resolve, reject) => {
      const child = spawn(path.join(pgBinDir(), 'psql'), args, { env: pgEnv(e.password), stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', reject);
      child.once('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    }),
  );
  const { value: code, seconds } = m;
  if (sampler) clearInterval(sampler);
  if (rssPid) {
    const v = readRssKiB(rssPid);
    if (v !== undefined && v > rssPeak) rssPeak = v;
  }
  if (code !== 0) throw new Error(`psql large result via ${pathName} failed (${code}): ${stderr}`);
  const bytes = rows * LARGE_ROW_BYTES;
  const out: LargeResult = {
    path: pathName, rows, bytes, seconds: round(seconds, 3), mbPerS: round(bytes / 1e6 / seconds, 1), runs: 1, allSeconds: [round(seconds, 3)],
  };
  if (m.proxyCpuS !== undefined) out.proxyCpuS = round(m.proxyCpuS, 2);
  if (m.otherCpuPct !== undefined) out.otherCpuPct = m.otherCpuPct;
  if (rssPid && rssBefore !== undefined) {
    out.rssBeforeMiB = round(rssBefore / 1024, 1);
    out.rssPeakMiB = round(rssPeak / 1024, 1);
  }
  return out;
}

/**
 * `pgbench -i -I dtg`: drops and creates the tables and fills them with client-side generated rows, which pgbench
 * sends as COPY … FROM STDIN (about 100 bytes per account row). The fastest of `runs` runs.
 */
async function copyIn(pathName: PathName, e: Endpoint, runs: number, proxyPid?: number): Promise<CopyInResult> {
  const args = ['-i', '-I', 'dtg', '-q', '-s', String(SCALE), ...connArgs(e), e.database];
  const all: CopyInResult[] = [];
  for (let i = 0; i < runs; i++) {
    const m = await measured(proxyPid, () => run(path.join(pgBinDir(), 'pgbench'), args, { env: pgEnv(e.password), inheritEnv: false, timeoutMs: 600_000 }));
    if (m.value.code !== 0) throw new Error(`pgbench ${args.join(' ')} via ${pathName} failed (${m.value.code}):\n${m.value.stderr}`);
    const seconds = round(m.seconds, 2);
    const one: CopyInResult = { path: pathName, rows: SCALE * 100_000, seconds, allSeconds: [seconds] };
    if (m.proxyCpuS !== undefined) one.proxyCpuS = round(m.proxyCpuS, 2);
    if (m.otherCpuPct !== undefined) one.otherCpuPct = m.otherCpuPct;
    all.push(one);
  }
  return { ...fastest(all), allSeconds: all.map((r) => r.seconds) };
}

/** The fastest of `runs` runs; RSS before is from the first run, the peak is the highest seen in any run. */
async function largeResult(pathName: PathName, e: Endpoint, rows: number, runs: number, proxyPid?: number, rssPid?: number): Promise<LargeResult> {
  const all: LargeResult[] = [];
  for (let i = 0; i < runs; i++) all.push(await largeResultOnce(pathName, e, rows, proxyPid, rssPid));
  const out: LargeResult = { ...fastest(all), runs, allSeconds: all.map((r) => r.seconds) };
  if (rssPid) {
    out.rssBeforeMiB = all[0]!.rssBeforeMiB;
    out.rssPeakMiB = Math.max(...all.map((r) => r.rssPeakMiB ?? 0));
  }
  return out;
}

// ---- output -------------------------------------------------------------------------------------

function pgbenchTable(results: PgbenchResult[]): string {
  const lines = [
    '| path | workload | mode | clients | TPS | avg latency (ms) | ratio to direct | proxy CPU (% of a core) | proxy CPU per txn (µs) | other processes\' CPU (% of machine) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const core = r.proxyCpuS === undefined ? '-' : `${Math.round((100 * r.proxyCpuS) / r.durationS)}`;
    lines.push(`| ${r.path} | ${r.workload} | ${r.mode} | ${r.clients} | ${r.tps.toFixed(0)} | ${r.latencyMs?.toFixed(3) ?? '-'} | ${r.ratioToDirect?.toFixed(2) ?? '-'} | ${core} | ${r.proxyCpuUsPerTxn?.toFixed(0) ?? '-'} | ${r.otherCpuPct ?? '-'} |`);
  }
  return lines.join('\n');
}

function largeTable(results: LargeResult[]): string {
  const lines = [
    '| path | rows | output MB | seconds (best of runs) | MB/s | ratio to direct | proxy CPU (s) | Airlock RSS before (MiB) | Airlock RSS peak (MiB) | other processes\' CPU (% of machine) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(`| ${r.path} | ${r.rows} | ${(r.bytes / 1e6).toFixed(0)} | ${r.seconds.toFixed(2)} (${r.allSeconds.map((s) => s.toFixed(2)).join(', ')}) | ${r.mbPerS.toFixed(0)} | ${r.ratioToDirect?.toFixed(2) ?? '-'} | ${r.proxyCpuS?.toFixed(2) ?? '-'} | ${r.rssBeforeMiB ?? '-'} | ${r.rssPeakMiB ?? '-'} | ${r.otherCpuPct ?? '-'} |`);
  }
  return lines.join('\n');
}

function copyInTable(results: CopyInResult[]): string {
  const lines = [
    '| path | account rows | seconds (best of runs) | ratio to direct | proxy CPU (s) | other processes\' CPU (% of machine) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    lines.push(`| ${r.path} | ${r.rows} | ${r.seconds.toFixed(2)} (${r.allSeconds.map((x) => x.toFixed(2)).join(', ')}) | ${r.ratioToDirect?.toFixed(2) ?? '-'} | ${r.proxyCpuS?.toFixed(2) ?? '-'} | ${r.otherCpuPct ?? '-'} |`);
  }
  return lines.join('\n');
}

// ---- main ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  const loadAtStart = os.loadavg().map((v) => round(v, 2));
  const idleAtStart = await idleShare(2000);
  if (idleAtStart !== undefined && idleAtStart < 0.9) {
    log(`warning: the CPUs were only ${Math.round(idleAtStart * 100)}% idle before the benchmark (load average ${loadAtStart.join(' ')}); other work on this machine will distort the figures`);
  }
  log(`starting PostgreSQL (max_connections 100) …`);
  const pg = await startPostgres({ settings: { max_connections: '100' } });
  cleanups.push(() => pg.stop());
  benchRoots.push(pg.pid());
  const direct: Endpoint = { port: pg.port, user: pg.superuser, password: pg.password, database: pg.database };

  log(`pgbench -i -s ${SCALE} …`);
  const init = await run(path.join(pgBinDir(), 'pgbench'), ['-i', '-q', '-s', String(SCALE), ...connArgs(direct), direct.database], {
    env: pgEnv(direct.password), inheritEnv: false,
  });
  if (init.code !== 0) throw new Error(`pgbench -i failed (${init.code}):\n${init.stderr}`);
  // Write the freshly loaded pages out now rather than during the first measured run.
  await pg.sql('CHECKPOINT');

  log('starting PgBouncer (session pooling) …');
  const bouncer: PgBouncerServer = await startPgBouncer({
    host: pg.host, port: pg.port, user: pg.superuser, password: pg.password, database: pg.database,
  });
  cleanups.push(() => bouncer.stop());
  const viaBouncer: Endpoint = { ...direct, port: bouncer.port };

  log('starting the bare Node.js TCP relay (reference) …');
  const relay = await startTcpRelay(pg.port);
  cleanups.push(async () => {
    relay.kill('SIGKILL');
    liveChildren.delete(relay);
  });
  const viaRelay: Endpoint = { ...direct, port: relay.port };

  log('starting the Airlock gateway (separate process) …');
  const gw = await startAirlock(pg);
  cleanups.push(() => gw.stop());
  const token = await issueToken(gw);
  const viaAirlock: Endpoint = { port: gw.port, user: SUBJECT, password: token, database: CONNECTION };
  const endpoints: Record<PathName, Endpoint> = { direct, pgbouncer: viaBouncer, 'node-relay': viaRelay, airlock: viaAirlock };
  const proxyPids: Record<PathName, number | undefined> = { direct: undefined, pgbouncer: bouncer.pid, 'node-relay': relay.pid, airlock: gw.pid };

  // Short warm-up on every path (JIT in the gateway, server caches), not reported.
  for (const p of PATHS) await pgbench(p, endpoints[p], { workload: 'select-only', mode: 'extended', clients: 2, duration: 2 });

  const results: PgbenchResult[] = [];
  const plan: Array<{ workload: PgbenchResult['workload']; mode: PgbenchResult['mode']; clients: number }> = [];
  if (QUICK) plan.push({ workload: 'select-only', mode: 'simple', clients: QUICK_CLIENTS });
  else {
    for (const clients of [1, 8]) {
      for (const mode of ['simple', 'extended'] as const) plan.push({ workload: 'select-only', mode, clients });
    }
    plan.push({ workload: 'tpcb-like', mode: 'simple', clients: 8 });
  }
  for (const step of plan) {
    let directTps = 0;
    for (const p of PATHS) {
      log(`pgbench ${step.workload} -M ${step.mode} -c ${step.clients} via ${p} (${DURATION} s) …`);
      const r = await pgbench(p, endpoints[p], { ...step, duration: DURATION, rate: RATE }, proxyPids[p]);
      if (p === 'direct') directTps = r.tps;
      r.ratioToDirect = round(r.tps / directTps, 3);
      results.push(r);
      log(`  tps ${r.tps.toFixed(0)}`);
    }
  }

  const rows = Math.round((LARGE_MB * 1e6) / LARGE_ROW_BYTES);
  const large: LargeResult[] = [];
  let directSeconds = 0;
  for (const p of QUICK ? [] : PATHS) {
    log(`large result (${rows} rows, ~${LARGE_MB} MB, ${LARGE_RUNS}×) via ${p} …`);
    const r = await largeResult(p, endpoints[p], rows, LARGE_RUNS, proxyPids[p], p === 'airlock' ? gw.pid : undefined);
    if (p === 'direct') directSeconds = r.seconds;
    r.ratioToDirect = round(directSeconds / r.seconds, 3);
    large.push(r);
    log(`  ${r.mbPerS.toFixed(0)} MB/s`);
  }

  // Last, as it recreates the pgbench tables (without their keys): COPY … FROM STDIN through each path.
  const copyIns: CopyInResult[] = [];
  let directCopySeconds = 0;
  for (const p of QUICK ? [] : PATHS) {
    log(`pgbench -i -I dtg -s ${SCALE} (COPY in, ${LARGE_RUNS}×) via ${p} …`);
    const r = await copyIn(p, endpoints[p], LARGE_RUNS, proxyPids[p]);
    if (p === 'direct') directCopySeconds = r.seconds;
    r.ratioToDirect = round(directCopySeconds / r.seconds, 3);
    copyIns.push(r);
    log(`  ${r.seconds.toFixed(2)} s`);
  }

  // Stop the gateway (it writes what is queued and seals every session), then check what it recorded.
  log('stopping the gateway …');
  await gw.shutdown();
  const gatewayExit = gw.child.exitCode;
  let recording: ReturnType<typeof recordingSummary> | { error: string };
  try {
    recording = recordingSummary(gw.dataDir);
    recording.storeMiB = round((await dirBytes(gw.dataDir)) / 2 ** 20, 1);
  } catch (err) {
    recording = { error: (err as Error).message };
  }

  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.type()} ${os.release()}`,
    loadAverageAtStart: loadAtStart,
    idlePercentBeforeRun: idleAtStart === undefined ? null : Math.round(idleAtStart * 100),
    node: process.version,
    postgres: (await pg.sql('show server_version')).trim(),
    pgbench: await firstLine(path.join(pgBinDir(), 'pgbench'), ['--version']),
    pgbouncer: await firstLine(pgbouncerBin(), ['--version']),
  };
  const revision = await sourceRevision();
  const report = {
    when: new Date().toISOString(),
    command: `npx tsx bench/pgbench.ts --duration ${DURATION} --scale ${SCALE} --large-mb ${LARGE_MB} --large-runs ${LARGE_RUNS}${LARGE_COPY ? ' --large-copy' : ''}${QUICK ? ` --quick --clients ${QUICK_CLIENTS}` : ''}${RATE ? ` --rate ${RATE}` : ''}`,
    revision,
    machine,
    settings: { durationS: DURATION, scale: SCALE, largeRows: rows, largeRuns: LARGE_RUNS, largeSql: largeSql(rows), sslmode: 'disable', pgbouncer: 'pool_mode=session', airlockRecording: 'on (defaults: maxRows 100, maxBytes 64 KiB per statement)' },
    pgbench: results,
    largeResult: large,
    copyIn: copyIns,
    airlockRecording: { ...recording, gatewayExitCode: gatewayExit, tokenCliExitCode },
    wallSeconds: round((Date.now() - started) / 1000, 1),
  };

  const outDir = path.join(os.tmpdir(), 'airlock-bench');
  await mkdir(outDir, { recursive: true });
  const outFile = path.join(outDir, `pgbench-${report.when.replace(/[:.]/g, '-')}.json`);
  await writeFile(outFile, JSON.stringify(report, null, 2) + '\n');
  await writeFile(path.join(outDir, 'pgbench-latest.json'), JSON.stringify(report, null, 2) + '\n');

  const airlockLarge = large.find((r) => r.path === 'airlock');
  process.stdout.write(
    [
      '',
      `## pgbench (duration ${DURATION} s, scale ${SCALE}; ${machine.cpus} CPUs, ${machine.cpuModel}; ${machine.postgres}, ${machine.pgbouncer})`,
      '',
      pgbenchTable(results),
      '',
      ...(large.length ? [`## Large result: ${largeSql(rows)} through psql -At to /dev/null`, '', largeTable(large), ''] : []),
      ...(copyIns.length ? [`## COPY in: pgbench -i -I dtg -s ${SCALE} (client-side generated rows sent as COPY FROM STDIN)`, '', copyInTable(copyIns), ''] : []),
      airlockLarge
        ? `Airlock gateway RSS: ${airlockLarge.rssBeforeMiB} MiB before the query, peak ${airlockLarge.rssPeakMiB} MiB while streaming ${(airlockLarge.bytes / 1e6).toFixed(0)} MB (sampled every 100 ms from /proc/<pid>/status VmRSS).`
        : '',
      '',
      'error' in recording
        ? `Could not read the recording summary (${recording.error}); gateway exit code ${gatewayExit}.`
        : `Airlock recorded ${recording.sessions} sessions with ${recording.events} events (${recording.ended} ended); recording store ${recording.storeMiB} MiB; gateway exit code ${gatewayExit}.`,
      '',
      revision ? `revision: ${revision.commit.slice(0, 12)}${revision.modified ? ' with uncommitted changes to the sources' : ''}.` : '',
      `before the run: CPUs ${machine.idlePercentBeforeRun ?? '?'}% idle over 2 s, load average ${loadAtStart.join(' ')}.`,
      `results: ${outFile}`,
      `wall time: ${report.wallSeconds} s`,
      '',
    ].join('\n'),
  );
}

try {
  await main();
} catch (err) {
  if (!interrupted) log(`\nbenchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
