/**
 * How much space terminal output takes in the store: real command output, cut into the ~16 KB chunks the
 * SSH adapter records, serialised and deflated exactly as the store writes large events. A second table
 * shows what other ways of compressing the same chunks would store (none of them is what the store does):
 * brotli per chunk, deflate with the session's previous chunk as preset dictionary, and brotli at its
 * highest quality over each command's whole output at once (a bound for any scheme that compresses
 * across chunks).
 *
 *   npx tsx bench/compression.ts
 */
import { execFileSync } from 'node:child_process';
import { brotliCompressSync, constants, deflateRawSync } from 'node:zlib';
import { canonical } from '../src/recording/chain.ts';
import { COMPRESS_FROM } from '../src/store/sqlite/event-writer.mjs';

const sources: [string, string[]][] = [
  ['ls', ['-la', '--color=always', '-R', '/usr/lib/python3']],
  ['ps', ['auxww']],
  ['find', ['/usr/share/doc', '-maxdepth', '2']],
  ['cat', ['/etc/services']],
  ['top', ['-b', '-n', '10', '-d', '0.2']],
];
const CHUNK = 16 * 1024;
console.log('| output | raw bytes | stored bytes | stored / raw |\n|---|---|---|---|');
let rawTotal = 0;
let storedTotal = 0;
const alternatives = { brotli5: 0, deflatePrevDict: 0, brotli11Whole: 0 };
const ms = { brotli5: 0, deflatePrevDict: 0, brotli11Whole: 0 };
const brotli = (data: string | Buffer, quality: number) =>
  brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT } }).length;
/** Adds the size `f` gives and the time it took to the named alternative. */
const alt = (name: keyof typeof alternatives, f: () => number) => {
  const t0 = performance.now();
  alternatives[name] += f();
  ms[name] += performance.now() - t0;
};
for (const [cmd, args] of sources) {
  let out: Buffer;
  try {
    out = execFileSync(cmd, args, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).subarray(0, 8 * 1024 * 1024);
  } catch (err) {
    out = (err as { stdout?: Buffer }).stdout ?? Buffer.alloc(0);
  }
  let stored = 0;
  let prev: Buffer | undefined;
  for (let i = 0; i < out.length; i += CHUNK) {
    const json = canonical({ stream: 'stdout', data: out.subarray(i, i + CHUNK).toString('utf8') });
    const small = json.length < COMPRESS_FROM;
    stored += small ? Buffer.byteLength(json) : deflateRawSync(json).length;
    alt('brotli5', () => (small ? Buffer.byteLength(json) : brotli(json, 5)));
    alt('deflatePrevDict', () => (small ? Buffer.byteLength(json) : deflateRawSync(json, prev ? { dictionary: prev } : {}).length));
    prev = Buffer.from(json);
  }
  alt('brotli11Whole', () => brotli(out, 11));
  rawTotal += out.length;
  storedTotal += stored;
  console.log(`| \`${cmd} ${args.join(' ')}\` | ${out.length.toLocaleString()} | ${stored.toLocaleString()} | ${((stored / out.length) * 100).toFixed(1)}% |`);
}
console.log(`| **all** | ${rawTotal.toLocaleString()} | ${storedTotal.toLocaleString()} | **${((storedTotal / rawTotal) * 100).toFixed(1)}%** |`);
console.log('\n| alternative (all outputs) | stored bytes | stored / raw | MB/s (raw, one core) |\n|---|---|---|---|');
const labels: Record<keyof typeof alternatives, string> = {
  brotli5: 'brotli quality 5 per chunk',
  deflatePrevDict: 'deflate per chunk, previous chunk as dictionary',
  brotli11Whole: 'brotli quality 11 over each whole output',
};
for (const k of Object.keys(alternatives) as (keyof typeof alternatives)[]) {
  console.log(`| ${labels[k]} | ${alternatives[k].toLocaleString()} | ${((alternatives[k] / rawTotal) * 100).toFixed(1)}% | ${(rawTotal / 1e6 / (ms[k] / 1000)).toFixed(1)} |`);
}
