/**
 * How much space terminal output takes in the store: real command output, cut into the ~16 KB chunks the
 * SSH adapter records, serialised and deflated exactly as the store writes large events.
 *
 *   npx tsx bench/compression.ts
 */
import { execFileSync } from 'node:child_process';
import { deflateRawSync } from 'node:zlib';
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
for (const [cmd, args] of sources) {
  let out: Buffer;
  try {
    out = execFileSync(cmd, args, { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).subarray(0, 8 * 1024 * 1024);
  } catch (err) {
    out = (err as { stdout?: Buffer }).stdout ?? Buffer.alloc(0);
  }
  let stored = 0;
  for (let i = 0; i < out.length; i += CHUNK) {
    const json = canonical({ stream: 'stdout', data: out.subarray(i, i + CHUNK).toString('utf8') });
    stored += json.length >= COMPRESS_FROM ? deflateRawSync(json).length : Buffer.byteLength(json);
  }
  rawTotal += out.length;
  storedTotal += stored;
  console.log(`| \`${cmd} ${args.join(' ')}\` | ${out.length.toLocaleString()} | ${stored.toLocaleString()} | ${((stored / out.length) * 100).toFixed(1)}% |`);
}
console.log(`| **all** | ${rawTotal.toLocaleString()} | ${storedTotal.toLocaleString()} | **${((storedTotal / rawTotal) * 100).toFixed(1)}%** |`);
