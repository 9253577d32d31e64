import type { SshSession } from './session.ts';
import type { PathResolver } from './sftp-paths.ts';
import { isStartupFile } from './sftp-paths.ts';

/**
 * Legacy scp (`scp -O`) runs `scp -f PATH` (send PATH to the client) or `scp -t PATH` (receive into PATH)
 * as an exec on the target: file access that never passes through the SFTP relay. So such a command is
 * also decided as the SFTP operations it stands for (`read P` / `write P`, kind `sftp`), on the same
 * normalised and resolved paths as SFTP. A command line the gateway cannot take apart exactly (quoting,
 * shell characters, `~user`) is refused: it cannot say which files it touches.
 */
export type ScpCommand =
  | { readonly op: 'read' | 'write'; readonly alsoRemove?: boolean; readonly paths: readonly string[] }
  | { readonly unknown: string };

/** A command-line word the gateway reads as it is: no quoting, expansion or shell character. */
export const PLAIN = /^[A-Za-z0-9_./@%+=:,~-]+$/;

/** Undefined when the command is not scp's remote end. */
export function parseScp(command: string): ScpCommand | undefined {
  const words = command.trim().split(/\s+/);
  if (!/^(\S*\/)?scp$/.test(words[0] ?? '')) return undefined;
  const tokens: string[] = [];
  for (const w of words.slice(1)) {
    const quoted = /^'([^']*)'$/.exec(w);
    if (quoted) tokens.push(quoted[1]!);
    else if (PLAIN.test(w)) tokens.push(w);
    else return { unknown: `the scp command line has characters the gateway does not interpret (${JSON.stringify(w)})` };
  }
  let op: 'read' | 'write' | undefined;
  const paths: string[] = [];
  let options = true;
  for (const t of tokens) {
    if (options && t === '--') options = false;
    else if (options && /^-[a-zA-Z]+$/.test(t)) {
      if (t.includes('f')) op = 'read';
      if (t.includes('t')) op = op === 'read' ? undefined : 'write';
    } else paths.push(t);
  }
  if (!op) return { unknown: 'an scp command that is neither -f nor -t' };
  if (paths.length === 0) return { unknown: 'an scp command without a path' };
  if (paths.some((p) => /^~[^/]/.test(p))) return { unknown: 'an scp path under another user\'s home (~user)' };
  return { op, paths };
}

/** Decides the scp (or rsync) command's file access like SFTP; resolves with a reason when refused. */
export async function decideScp(s: SshSession, scp: ScpCommand, paths: PathResolver, channel: number, via: 'scp' | 'rsync' = 'scp'): Promise<string | undefined> {
  if ('unknown' in scp) {
    s.recordDenial('sftp', `${via} ${scp.unknown}`, via, scp.unknown);
    return `${scp.unknown}, so it is refused`;
  }
  for (const raw of scp.paths) {
    let texts: string[];
    let resolved: string;
    try {
      const lex = await paths.lexical(raw.startsWith('~/') ? raw.slice(2) : raw === '~' ? '.' : raw);
      resolved = await paths.resolved(lex);
      const ops = scp.alsoRemove ? [scp.op, 'remove'] : [scp.op];
      texts = [...new Set(ops.flatMap((op) => [`${op} ${lex}`, `${op} ${resolved}`]))];
    } catch (err) {
      const reason = `the gateway cannot tell what ${raw} names (${(err as Error).message}), so it is refused`;
      s.recordDenial('sftp', `${scp.op} ${raw}`, via, reason);
      return reason;
    }
    for (const text of texts) {
      const auth = await s.authorize('sftp', text);
      if (!auth.ok) return auth.reason;
    }
    if (scp.op === 'write' && isStartupFile(resolved)) {
      const masked = s.mask(resolved);
      s.rec?.record('ssh.startup_file', { channel, op: 'write', path: masked, via }, { searchText: `startup write ${masked}`, outcome: 'allowed' });
    }
  }
  return undefined;
}
