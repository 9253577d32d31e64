import type Database from 'better-sqlite3';
import type { SshHostKeyRecord, SshKeyRecord } from '../types.ts';

type Row = Record<string, unknown>;

/** The `ssh_keys` and `ssh_host_keys` tables (migration in schema.ts); SqliteStore delegates here. */
export class SqliteSshKeyStore {
  constructor(private readonly db: Database.Database) {}

  insertSshKey(k: SshKeyRecord): void {
    this.db
      .prepare('INSERT INTO ssh_keys (fingerprint, subject, groups, kind, public_key, created_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(k.fingerprint, k.subject, JSON.stringify(k.groups), k.kind, k.publicKey, k.createdAt, k.comment);
  }

  getSshKey(fingerprint: string): SshKeyRecord | undefined {
    const row = this.db.prepare('SELECT * FROM ssh_keys WHERE fingerprint = ?').get(fingerprint) as Row | undefined;
    return row && toKey(row);
  }

  listSshKeys(subject?: string): SshKeyRecord[] {
    const rows = subject === undefined
      ? this.db.prepare('SELECT * FROM ssh_keys ORDER BY created_at, fingerprint').all()
      : this.db.prepare('SELECT * FROM ssh_keys WHERE subject = ? ORDER BY created_at, fingerprint').all(subject);
    return (rows as Row[]).map(toKey);
  }

  deleteSshKey(fingerprint: string): boolean {
    return this.db.prepare('DELETE FROM ssh_keys WHERE fingerprint = ?').run(fingerprint).changes > 0;
  }

  getSshHostKey(target: string): SshHostKeyRecord | undefined {
    const row = this.db.prepare('SELECT * FROM ssh_host_keys WHERE target = ?').get(target) as Row | undefined;
    return row && toHostKey(row);
  }

  /** INSERT OR IGNORE then read back: with several gateways on one store, the first writer wins. */
  pinSshHostKey(k: SshHostKeyRecord): SshHostKeyRecord {
    this.db
      .prepare('INSERT OR IGNORE INTO ssh_host_keys (target, public_key, fingerprint, first_seen_at, connection) VALUES (?, ?, ?, ?, ?)')
      .run(k.target, k.publicKey, k.fingerprint, k.firstSeenAt, k.connection);
    return this.getSshHostKey(k.target) ?? k;
  }

  listSshHostKeys(): SshHostKeyRecord[] {
    return (this.db.prepare('SELECT * FROM ssh_host_keys ORDER BY target').all() as Row[]).map(toHostKey);
  }

  deleteSshHostKey(target: string): boolean {
    return this.db.prepare('DELETE FROM ssh_host_keys WHERE target = ?').run(target).changes > 0;
  }
}

function toKey(r: Row): SshKeyRecord {
  return {
    fingerprint: String(r.fingerprint), subject: String(r.subject), groups: JSON.parse(String(r.groups)),
    kind: r.kind as SshKeyRecord['kind'], publicKey: String(r.public_key), createdAt: Number(r.created_at),
    comment: r.comment == null ? null : String(r.comment),
  };
}

function toHostKey(r: Row): SshHostKeyRecord {
  return {
    target: String(r.target), publicKey: String(r.public_key), fingerprint: String(r.fingerprint),
    firstSeenAt: Number(r.first_seen_at), connection: String(r.connection),
  };
}
