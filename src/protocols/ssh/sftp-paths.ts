import posix from 'node:path/posix';
import type { Client, SFTPWrapper, Stats } from 'ssh2';

/**
 * What an SFTP path really names, for deciding on it. A client may write a path any way it likes
 * (`//etc/./x/../passwd`, `../../etc/passwd`, relative to its login directory, through a symlink), so
 * the relay decides on the path normalised against the session's home (REALPATH "." on the target) and
 * on where the target resolves it (REALPATH, which follows symlinks), both. The questions go to the target
 * over the gateway's own SFTP channel on the same connection (one per connection, shared by its channels),
 * so they see what the client's requests see.
 *
 * Fail closed: a path that cannot be resolved for any reason but "it does not exist yet" (its parent is
 * resolved instead), or whose last component is a dangling symlink, is refused.
 */
export class PathResolver {
  private sftp: Promise<SFTPWrapper> | undefined;
  private homeDir: Promise<string> | undefined;

  constructor(private readonly target: Client) {}

  /** The session's home directory as the target reports it (REALPATH "."). */
  home(): Promise<string> {
    this.homeDir ??= this.ask((s, cb) => s.realpath('.', cb));
    return this.homeDir;
  }

  /** Lexically normalised absolute path: relative to home (or to `base`), `//`, `/./`, `..` collapsed. */
  async lexical(path: string, base?: string): Promise<string> {
    const abs = path.startsWith('/') ? path : `${base ?? (await this.home())}/${path}`;
    const norm = posix.normalize(abs);
    return norm.length > 1 && norm.endsWith('/') ? norm.slice(0, -1) : norm;
  }

  /** Where the target resolves `path` (an absolute, normalised path), following symlinks. Throws when it cannot tell. */
  async resolved(path: string): Promise<string> {
    try {
      return await this.ask((s, cb) => s.realpath(path, cb));
    } catch (err) {
      if (!isNoSuchFile(err)) throw new Error(`cannot resolve ${path}: ${(err as Error).message}`);
    }
    // It does not exist (yet): a dangling symlink is refused, else its directory is resolved.
    const exists = await this.ask<Stats>((s, cb) => s.lstat(path, cb)).then(() => true, () => false);
    if (exists) throw new Error(`${path} is a symbolic link to nothing the gateway can resolve`);
    if (path === '/') return path;
    const parent = posix.dirname(path);
    try {
      return posix.join(await this.ask((s, cb) => s.realpath(parent, cb)), posix.basename(path));
    } catch (err) {
      // Its directory does not exist either: the request will fail at the target, as written.
      if (isNoSuchFile(err)) return path;
      throw new Error(`cannot resolve ${parent}: ${(err as Error).message}`);
    }
  }

  /** One SFTP channel per target connection, opened when first needed and again if it closes. */
  private channel(): Promise<SFTPWrapper> {
    this.sftp ??= new Promise<SFTPWrapper>((resolve, reject) => this.target.sftp((err, s) => (err ? reject(err) : resolve(s)))).then(
      (s) => {
        s.on('error', () => {});
        s.once('close', () => (this.sftp = undefined));
        return s;
      },
      (err: Error) => {
        this.sftp = undefined;
        throw err;
      },
    );
    return this.sftp;
  }

  private async ask<T = string>(q: (s: SFTPWrapper, cb: (err: Error | undefined, v: T) => void) => void): Promise<T> {
    const s = await this.channel();
    return new Promise<T>((resolve, reject) => q(s, (err, v) => (err ? reject(err) : resolve(v))));
  }
}

function isNoSuchFile(err: unknown): boolean {
  return (err as { code?: unknown }).code === 2;
}

/**
 * Files that run code at the next login or hand out access: a write to one is recorded as
 * `ssh.startup_file` as well, so it stands out in the session.
 */
const STARTUP_FILES = new Set([
  '.bashrc', '.bash_profile', '.bash_login', '.bash_logout', '.profile', '.zshrc', '.zshenv', '.zprofile', '.zlogin',
  '.zlogout', '.kshrc', '.cshrc', '.tcshrc', '.login', '.logout', '.inputrc', '.pam_environment', '.xprofile', '.xinitrc',
]);
const STARTUP_PATHS = [
  /\/\.ssh\/(authorized_keys2?|rc|environment|config)$/, /\/\.config\/fish\/config\.fish$/, /\/\.config\/autostart\//,
  /^\/etc\/(profile|bash\.bashrc|environment|zsh\/\w+|crontab|sudoers)$/, /^\/etc\/(profile\.d|cron\.\w+|sudoers\.d)\//,
  /^\/var\/spool\/cron\//, /^\/root\/\.ssh\//,
];

export function isStartupFile(path: string): boolean {
  return STARTUP_FILES.has(posix.basename(path)) || STARTUP_PATHS.some((re) => re.test(path));
}
