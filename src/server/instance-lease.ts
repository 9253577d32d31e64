import { hostname } from 'node:os';
import { AirlockError, ErrorCodes } from '../core/errors.ts';
import { newId } from '../core/ids.ts';
import type { Logger } from '../core/logger.ts';
import type { InstanceLease, Store } from '../store/types.ts';

export interface LeaseTiming {
  /** How long a lease protects its instance without a heartbeat. */
  readonly ttlMs: number;
  /** Time between heartbeats. */
  readonly renewMs: number;
}

export const DEFAULT_LEASE: LeaseTiming = { ttlMs: 30_000, renewMs: 5_000 };

/** Whether process `pid` exists on this host (EPERM: it exists, owned by someone else). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `lease` still protects its instance's sessions: it has not expired, and when it names this host, its
 * process still exists (a gateway killed with -9 is known gone at once, without waiting for the expiry). A reused
 * pid only keeps a dead instance "live" until its lease expires.
 */
export function leaseIsLive(lease: InstanceLease, now = Date.now(), host = hostname()): boolean {
  if (lease.expiresAt <= now) return false;
  return lease.host !== host || lease.pid === process.pid || processExists(lease.pid);
}

/**
 * This gateway process's identity toward the store: an instance id and a lease renewed by heartbeats. The lease is
 * what lets a starting gateway tell sessions it may seal as interrupted (their instance is gone) from those a
 * running gateway still records; on a store only one gateway may use (SQLite) it also refuses a second gateway.
 * Losing the lease (another instance judged this one gone, e.g. after a long stall) is fatal: `onLost` is called
 * once, and the gateway must stop recording.
 */
export class InstanceLeaseHolder {
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private renewedAt = Date.now();
  onLost: ((reason: string) => void) | undefined;

  private constructor(
    private readonly store: Store,
    readonly lease: InstanceLease,
    private readonly timing: LeaseTiming,
    private readonly log: Logger,
  ) {}

  get id(): string {
    return this.lease.id;
  }

  /**
   * Claims a lease before anything else touches the store's sessions. `exclusive`: refuse when another live
   * gateway holds one (with a message naming it and the data dir).
   */
  static async claim(store: Store, o: { exclusive: boolean; timing?: LeaseTiming; log: Logger; where: string }): Promise<InstanceLeaseHolder> {
    const timing = o.timing ?? DEFAULT_LEASE;
    const now = Date.now();
    const lease: InstanceLease = { id: newId('gw_'), host: hostname(), pid: process.pid, startedAt: now, heartbeatAt: now, expiresAt: now + timing.ttlMs };
    const holder = await store.claimInstance(lease, (other) => leaseIsLive(other), o.exclusive);
    if (holder) {
      const age = Math.max(0, Math.round((now - holder.heartbeatAt) / 1000));
      throw new AirlockError(
        ErrorCodes.store,
        `${o.where} is in use by another gateway (instance ${holder.id}, pid ${holder.pid} on ${holder.host}, last heartbeat ${age}s ago); ` +
          'stop it first, or give this gateway its own dataDir',
      );
    }
    const lh = new InstanceLeaseHolder(store, lease, timing, o.log);
    lh.timer = setInterval(() => void lh.renew(), timing.renewMs);
    lh.timer.unref();
    return lh;
  }

  /** Whether the owner of an open session (by instance id; null: a session from before instances were tracked) is gone. */
  async goneOwners(): Promise<(instanceId: string | null) => boolean> {
    const live = new Set((await this.store.listInstances()).filter((l) => leaseIsLive(l)).map((l) => l.id));
    live.add(this.id);
    const othersLive = live.size > 1;
    return (instanceId) => (instanceId === null ? !othersLive : !live.has(instanceId));
  }

  private async renew(): Promise<void> {
    if (this.lost) return;
    const now = Date.now();
    try {
      if (await this.store.renewInstance(this.id, now, now + this.timing.ttlMs)) {
        this.renewedAt = now;
        return;
      }
      this.fail(`this gateway's lease on the store (instance ${this.id}) was taken over: another gateway judged it gone`);
    } catch (err) {
      // A store that cannot take the heartbeat now may heal (a full disk); past the lease's expiry it cannot.
      if (now - this.renewedAt < this.timing.ttlMs) {
        this.log.warn({ err: (err as Error).message, instance: this.id }, 'could not renew the instance lease; retrying');
        return;
      }
      this.fail(`this gateway's lease on the store (instance ${this.id}) expired: ${(err as Error).message}`);
    }
  }

  private fail(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.stopTimer();
    this.onLost?.(reason);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Gives the lease up (clean stop): its sessions are sealed by then. */
  async release(): Promise<void> {
    this.stopTimer();
    if (this.lost) return;
    this.lost = true;
    await this.store.releaseInstance(this.id).catch((err: Error) => this.log.warn({ err: err.message }, 'could not release the instance lease'));
  }
}
