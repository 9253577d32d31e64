import { OpenFlags, type SftpRequest } from './sftp-parser.ts';

export const WRITE_FLAGS = OpenFlags.WRITE | OpenFlags.APPEND | OpenFlags.CREAT | OpenFlags.TRUNC;

/** One thing a request does to a path (or two), as the policy sees it: `op path [path2]`. */
export interface SftpEffect {
  readonly op: string;
  readonly path: string;
  readonly path2?: string;
}

export type SftpDecisionNeed =
  | { readonly kind: 'none' }
  /** The first effect is the request itself (recorded as its op); the rest are what it also amounts to. */
  | { readonly kind: 'check'; readonly effects: readonly SftpEffect[] }
  | { readonly kind: 'refuse'; readonly op: string; readonly path: string; readonly reason: string };

/** Extensions that change nothing and reveal no file contents; any other is refused. */
const HARMLESS_EXTENSIONS = new Set([
  'statvfs@openssh.com', 'fstatvfs@openssh.com', 'fsync@openssh.com', 'limits@openssh.com', 'expand-path@openssh.com',
  'home-directory', 'users-groups-by-id@openssh.com', 'copy-data',
]);

/**
 * What the policy must decide for a request, by effect: a rename writes its destination and removes its
 * source, a link (symbolic or hard) to a file reads and writes it as far as rules go (the link is a second
 * name for it, and a hard link is never resolved back), and a `setstat` on a handle (`chmod` on a file
 * opened for reading) is a `setstat` of the file it was opened from. Metadata reads (stat, lstat,
 * readlink, realpath of anything but the home ".") and listing a directory are also `read` of the path.
 * Reads, writes and stats on a handle were decided at its open. Unknown request types and extensions are
 * refused.
 */
export function decisionFor(msg: SftpRequest, handlePath: (handle: string) => string | undefined): SftpDecisionNeed {
  const linkOf = (op: string, a: string, b: string): SftpDecisionNeed => ({
    kind: 'check',
    effects: [{ op, path: a, path2: b }, { op: 'write', path: b }, { op: 'read', path: a }, { op: 'write', path: a }, { op: 'read', path: b }],
  });
  switch (msg.type) {
    case 'open':
      return { kind: 'check', effects: [{ op: msg.pflags & WRITE_FLAGS ? 'write' : 'read', path: msg.path }] };
    case 'opendir':
      return { kind: 'check', effects: [{ op: 'list', path: msg.path }, { op: 'read', path: msg.path }] };
    case 'stat': case 'lstat': case 'readlink':
      return { kind: 'check', effects: [{ op: msg.type, path: msg.path }, { op: 'read', path: msg.path }] };
    case 'realpath':
      // The client asks for its home (".", or "") to start in: that much it always gets.
      if (msg.path === '.' || msg.path === '') return { kind: 'none' };
      return { kind: 'check', effects: [{ op: 'realpath', path: msg.path }, { op: 'read', path: msg.path }] };
    case 'remove': case 'mkdir': case 'rmdir': case 'setstat':
      return { kind: 'check', effects: [{ op: msg.type, path: msg.path }] };
    case 'fsetstat': {
      const path = handlePath(msg.handle);
      if (path === undefined) return { kind: 'refuse', op: 'setstat', path: '(unknown handle)', reason: 'a handle the gateway did not see opened' };
      return { kind: 'check', effects: [{ op: 'setstat', path }] };
    }
    case 'rename':
      return { kind: 'check', effects: [{ op: 'rename', path: msg.path, path2: msg.path2 }, { op: 'remove', path: msg.path }, { op: 'write', path: msg.path2 }] };
    case 'symlink':
      return linkOf('symlink', msg.path, msg.path2);
    case 'extended':
      if (msg.name === 'posix-rename@openssh.com' && msg.path !== undefined && msg.path2 !== undefined) {
        return { kind: 'check', effects: [{ op: 'rename', path: msg.path, path2: msg.path2 }, { op: 'remove', path: msg.path }, { op: 'write', path: msg.path2 }] };
      }
      if (msg.name === 'hardlink@openssh.com' && msg.path !== undefined && msg.path2 !== undefined) return linkOf('link', msg.path, msg.path2);
      if (msg.name === 'lsetstat@openssh.com' && msg.path !== undefined) return { kind: 'check', effects: [{ op: 'setstat', path: msg.path }] };
      if (HARMLESS_EXTENSIONS.has(msg.name)) return { kind: 'none' };
      return { kind: 'refuse', op: 'extended', path: msg.name, reason: `the SFTP extension ${msg.name} is not one the gateway knows` };
    case 'unknown':
      return { kind: 'refuse', op: 'unknown', path: `type ${msg.code}`, reason: `SFTP request type ${msg.code} is not one the gateway knows` };
    default:
      return { kind: 'none' };
  }
}
