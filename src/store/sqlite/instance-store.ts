import type Database from 'better-sqlite3';
import type { InstanceLease, OpenSessionOwner } from '../types.ts';

type Row = Record<string, unknown>;

/** The `instances` table and the sessions' `instance_id` (migration in schema.ts); SqliteStore delegates here. */
export class SqliteInstanceStore {
  constructor(private readonly db: Database.Database) {}

  /** One IMMEDIATE transaction: two gateways starting at once cannot both see the store free. */
  claim(lease: InstanceLease, isLive: (other: InstanceLease) => boolean, exclusive: boolean): InstanceLease | undefined {
    return this.db.transaction(() => {
      const others = (this.db.prepare('SELECT * FROM instances WHERE id != ?').all(lease.id) as Row[]).map(toLease);
      const live = others.filter((o) => isLive(o));
      if (exclusive && live.length > 0) return live[0];
      const drop = this.db.prepare('DELETE FROM instances WHERE id = ?');
      for (const o of others) if (!live.includes(o)) drop.run(o.id);
      this.db
        .prepare('INSERT INTO instances (id, host, pid, started_at, heartbeat_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(lease.id, lease.host, lease.pid, lease.startedAt, lease.heartbeatAt, lease.expiresAt);
      return undefined;
    }).immediate();
  }

  renew(id: string, heartbeatAt: number, expiresAt: number): boolean {
    return this.db.prepare('UPDATE instances SET heartbeat_at = ?, expires_at = ? WHERE id = ?').run(heartbeatAt, expiresAt, id).changes > 0;
  }

  release(id: string): void {
    this.db.prepare('DELETE FROM instances WHERE id = ?').run(id);
  }

  list(): InstanceLease[] {
    return (this.db.prepare('SELECT * FROM instances ORDER BY started_at').all() as Row[]).map(toLease);
  }

  openSessionOwners(): OpenSessionOwner[] {
    const rows = this.db.prepare('SELECT id, instance_id FROM sessions WHERE ended_at IS NULL ORDER BY started_at').all() as Row[];
    return rows.map((r) => ({ sessionId: String(r.id), instanceId: r.instance_id == null ? null : String(r.instance_id) }));
  }
}

function toLease(r: Row): InstanceLease {
  return {
    id: String(r.id), host: String(r.host), pid: Number(r.pid), startedAt: Number(r.started_at),
    heartbeatAt: Number(r.heartbeat_at), expiresAt: Number(r.expires_at),
  };
}
