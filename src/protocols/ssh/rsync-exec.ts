import { PLAIN, type ScpCommand } from './scp-exec.ts';

/**
 * `rsync` over SSH runs `rsync --server [--sender] OPTIONS . PATH...` on the target: file access that never
 * passes through the SFTP relay, like legacy scp. Such a command is decided as the SFTP operations it stands
 * for (`read P` for `--sender`, `write P` otherwise) on the same canonical paths. Only a command line the
 * gateway takes apart exactly is let through: options it knows name no other path (`--backup-dir`,
 * `--files-from`, `--log-file`, `--link-dest`, ... are refused) and protected arguments (`-s`, where paths
 * travel inside the rsync protocol instead of the command line) are refused.
 */
/** Long options that take no path; `=VALUE` forms only with a plain value. */
const LONG = new Set([
  'delete', 'delete-before', 'delete-during', 'delete-delay', 'delete-after', 'delete-excluded', 'partial', 'inplace',
  'append', 'append-verify', 'numeric-ids', 'safe-links', 'copy-unsafe-links', 'munge-links', 'ignore-existing',
  'existing', 'size-only', 'force', 'ignore-errors', 'no-implied-dirs', 'fake-super', 'super', 'no-inc-recursive',
  'mkpath', 'preallocate', 'fsync', 'open-noatime', 'ignore-missing-args', 'delete-missing-args', 'old-args',
]);
const LONG_VALUE = new Set([
  'max-delete', 'max-size', 'min-size', 'timeout', 'bwlimit', 'modify-window', 'compress-level', 'checksum-choice',
  'compress-choice', 'checksum-seed', 'block-size', 'usermap', 'groupmap', 'chown', 'chmod', 'info', 'debug', 'iconv',
]);

/** Undefined when the command is not rsync's server end. */
export function parseRsync(command: string): ScpCommand | undefined {
  const words = command.trim().split(/\s+/);
  if (!/^(\S*\/)?rsync$/.test(words[0] ?? '')) return undefined;
  if (!words.includes('--server')) return undefined;
  if (words[1] !== '--server') return { unknown: 'an rsync command with options before --server' };
  let op: 'read' | 'write' = 'write';
  let removesSource = false;
  let i = 2;
  for (; i < words.length && words[i] !== '.'; i++) {
    const w = words[i]!;
    if (w === '--sender') op = 'read';
    else if (w === '--remove-source-files') removesSource = true;
    else if (/^-[A-DF-Za-df-z]*(e[A-Za-z0-9.]*)?$/.test(w) && w.length > 1) {
      const flags = w.slice(1).split('e')[0]!;
      if (flags.includes('s')) return { unknown: 'rsync with protected arguments (-s): its paths are not on the command line' };
    } else if (/^--[a-z-]+$/.test(w) && LONG.has(w.slice(2))) continue;
    else if (/^--[a-z-]+=/.test(w) && LONG_VALUE.has(w.slice(2, w.indexOf('='))) && PLAIN.test(w.slice(w.indexOf('=') + 1))) continue;
    else return { unknown: `an rsync option the gateway does not interpret (${JSON.stringify(w)})` };
  }
  if (words[i] !== '.') return { unknown: 'an rsync server command without its "." argument' };
  const paths = words.slice(i + 1);
  if (paths.length === 0) return { unknown: 'an rsync command without a path' };
  if (op === 'write' && paths.length !== 1) return { unknown: 'an rsync receiver with more than one destination' };
  for (const p of paths) {
    if (!PLAIN.test(p)) return { unknown: `the rsync command line has characters the gateway does not interpret (${JSON.stringify(p)})` };
    if (/^~[^/]/.test(p)) return { unknown: 'an rsync path under another user\'s home (~user)' };
  }
  // A sender that removes what it sent writes its sources too.
  return removesSource && op === 'read' ? { op, alsoRemove: true, paths } : { op, paths };
}
