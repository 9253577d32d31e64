/**
 * scp throughput through Airlock's SSH adapter, compared in the same run with scp straight to sshd.
 *
 *   npx tsx bench/scp.ts [--mb 500] [--runs 2] [--legacy]
 *
 * Starts an ephemeral OpenSSH sshd with the test harness and the gateway as a separate process
 * (`node bin/airlock.js gateway`, recording on, as always) with a temporary data dir, registers a client
 * key, then copies a file of random bytes up and down with the real scp (SFTP protocol, the default of
 * OpenSSH 9; `--legacy` adds scp -O) directly and through the gateway. Prints MB/s (best of the runs),
 * the ratio to direct, and the gateway's CPU time and peak RSS per transfer. Everything it started is
 * stopped again, also on error or Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSshd, type SshdServer } from '../test/harness/sshd.ts';
import { freePort } from '../test/harness/ports.ts';
import { waitForPort } from '../test/harness/wait.ts';
import { run } from '../test/ssh/helpers.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AIRLOCK_BIN = path.join(ROOT, 'bin', 'airlock.js');

const { values: argv } = parseArgs({
  options: { mb: { type: 'string', default: '500' }, runs: { type: 'string', default: '2' }, legacy: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  strict: true,
});
if (argv.help) {
  process.stdout.write('usage: npx tsx bench/scp.ts [--mb MB] [--runs N] [--legacy]\n');
  process.exit(0);
}
const MB = Number(argv.mb);
const RUNS = Number(argv.runs);
if (!Number.isInteger(MB) || MB <= 0 || !Number.isInteger(RUNS) || RUNS <= 0) {
  process.stderr.write('--mb and --runs must be positive integers\n');
  process.exit(2);
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

interface ProcSample {
  rssKiB: number;
  cpuTicks: number;
}

function sample(pid: number): ProcSample | undefined {
  try {
    const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { rssKiB: rss ? Number(rss[1]) : 0, cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined;
  }
}

let sshd: SshdServer | undefined;
let gateway: ChildProcess | undefined;
let dir: string | undefined;

async function cleanup(): Promise<void> {
  if (gateway && gateway.exitCode === null) {
    const exited = new Promise((r) => gateway!.once('exit', r));
    gateway.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
  }
  await sshd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

interface Row {
  path: 'direct' | 'airlock';
  protocol: 'sftp' | 'legacy';
  direction: 'upload' | 'download';
  mbPerS: number;
  allSeconds: number[];
  ratioToDirect?: number;
  gatewayCpuS?: number;
  gatewayRssBeforeMiB?: number;
  gatewayPeakRssMiB?: number;
}

async function main(): Promise<void> {
  sshd = await startSshd();
  dir = await mkdtemp(path.join(os.tmpdir(), 'airlock-bench-scp-'));
  const file = path.join(dir, 'payload.bin');
  const back = path.join(dir, 'back.bin');
  log(`generating ${MB} MB of random bytes`);
  if ((await run('sh', ['-c', `head -c ${MB}M /dev/urandom > ${file}`])).code !== 0) throw new Error('cannot create the payload');
  const clientKey = path.join(dir, 'client');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);

  const sshPort = await freePort();
  const config = path.join(dir, 'airlock.yaml');
  await writeFile(config, [
    `listen: { ssh: "127.0.0.1:${sshPort}" }`,
    `dataDir: ${path.join(dir, 'data')}`,
    'connections:',
    '  bench:',
    '    type: ssh',
    `    host: ${sshd.host}`,
    `    port: ${sshd.port}`,
    `    user: ${sshd.user}`,
    `    privateKey: \${file:${sshd.clientKeyFile}}`,
    `    hostKey: "${sshd.hostPublicKey}"`,
    '    allow: [bench]',
    '',
  ].join('\n'));
  const added = await run(process.execPath, [AIRLOCK_BIN, 'ssh-keys', 'add', '--config', config, '--subject', 'bench', '--groups', 'bench', `${clientKey}.pub`]);
  if (!/^SHA256:/m.test(added.stdout)) throw new Error(`ssh-keys add failed (${added.code}): ${added.stderr}`);
  gateway = spawn(process.execPath, [AIRLOCK_BIN, 'gateway', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, AIRLOCK_LOG_LEVEL: 'warn' } });
  await waitForPort(sshPort, { timeoutMs: 30_000 });
  const gwPid = gateway.pid!;

  const common = ['-q', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'];
  const endpoints = {
    direct: { args: ['-P', String(sshd.port), '-i', sshd.clientKeyFile], login: `${sshd.user}@127.0.0.1` },
    airlock: { args: ['-P', String(sshPort), '-i', clientKey], login: 'bench+bench@127.0.0.1' },
  };
  const rows: Row[] = [];
  const protocols: Row['protocol'][] = argv.legacy ? ['sftp', 'legacy'] : ['sftp'];
  for (const protocol of protocols) {
    for (const direction of ['upload', 'download'] as const) {
      for (const p of ['direct', 'airlock'] as const) {
        const e = endpoints[p];
        const remote = `airlock-bench-${process.pid}.bin`;
        if (direction === 'download') {
          const seed = await run('scp', [...common, ...endpoints.direct.args, file, `${endpoints.direct.login}:${remote}`], { timeoutMs: 600_000 });
          if (seed.code !== 0) throw new Error(`seeding failed: ${seed.stderr}`);
        }
        const seconds: number[] = [];
        let cpuS = 0;
        let peakKiB = 0;
        const rssBeforeKiB = sample(gwPid)?.rssKiB ?? 0;
        for (let i = 0; i < RUNS; i++) {
          const from = direction === 'upload' ? file : `${e.login}:${remote}`;
          const to = direction === 'upload' ? `${e.login}:${remote}` : back;
          const before = sample(gwPid);
          const timer = setInterval(() => (peakKiB = Math.max(peakKiB, sample(gwPid)?.rssKiB ?? 0)), 50);
          const t0 = performance.now();
          const r = await run('scp', [...(protocol === 'legacy' ? ['-O'] : []), ...common, ...e.args, from, to], { timeoutMs: 600_000 });
          const s = (performance.now() - t0) / 1000;
          clearInterval(timer);
          const after = sample(gwPid);
          if (r.code !== 0) throw new Error(`scp ${p} ${direction} failed (${r.code}): ${r.stderr}`);
          if (before && after && p === 'airlock') cpuS += (after.cpuTicks - before.cpuTicks) / 100;
          seconds.push(s);
          log(`${protocol} ${direction} ${p} run ${i + 1}: ${round(s, 2)} s, ${round(MB / s)} MB/s`);
        }
        await run('ssh', ['-p', String(sshd.port), '-i', sshd.clientKeyFile, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', endpoints.direct.login, `rm -f ${remote}`]);
        const best = Math.min(...seconds);
        rows.push({
          path: p, protocol, direction, mbPerS: round(MB / best), allSeconds: seconds.map((s) => round(s, 2)),
          ...(p === 'airlock' ? { gatewayCpuS: round(cpuS / RUNS, 2), gatewayRssBeforeMiB: round(rssBeforeKiB / 1024), gatewayPeakRssMiB: round(peakKiB / 1024) } : {}),
        });
      }
    }
  }
  for (const r of rows) {
    const direct = rows.find((d) => d.path === 'direct' && d.protocol === r.protocol && d.direction === r.direction);
    if (r.path === 'airlock' && direct) r.ratioToDirect = round(r.mbPerS / direct.mbPerS, 2);
  }

  const lines = [
    `scp of a ${MB} MB file (best of ${RUNS}), ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'}`,
    '',
    '| protocol | direction | path | MB/s | ratio to direct | gateway CPU s / transfer | gateway RSS before → peak MiB |',
    '|---|---|---|---:|---:|---:|---:|',
    ...rows.map((r) =>
      `| ${r.protocol} | ${r.direction} | ${r.path} | ${r.mbPerS} | ${r.ratioToDirect ?? ''} | ${r.gatewayCpuS ?? ''} | ${r.path === 'airlock' ? `${r.gatewayRssBeforeMiB} → ${r.gatewayPeakRssMiB}` : ''} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const out = path.join(os.tmpdir(), `airlock-bench-scp-${Date.now()}.json`);
  await writeFile(out, JSON.stringify({ mb: MB, runs: RUNS, rows }, null, 2));
  log(`results: ${out}`);
}

main()
  .catch((err: Error) => {
    log(`bench failed: ${err.message}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
