import { randomBytes } from 'node:crypto';
import type { AcceptConnection, Connection, RejectConnection, Session, TcpipRequestInfo } from 'ssh2';
import type { SshConnectionConfig } from '../../config/schema.ts';
import { clientMessage } from '../../core/errors.ts';
import type { Identity } from '../../core/identity.ts';
import type { ValueMasker } from '../../policy/connection-policies.ts';
import type { Command, ConnectionPolicy, Decision } from '../../policy/types.ts';
import type { SessionRecorder } from '../../recording/recorder.ts';
import type { EngineContext } from '../common/engine.ts';
import { heldLine } from '../../reviews/types.ts';
import { connectionBoundary, type Boundary } from './boundary.ts';
import { SessionChannel } from './channel-session.ts';
import { PathResolver } from './sftp-paths.ts';
import { SocketRoom } from './socket-room.ts';
import { handleForward } from './forward.ts';
import { HostKeyMismatchError, connectTarget, type HostKeyStore, type TargetConnection } from './target.ts';

export type SshCommandKind = Extract<Command['kind'], 'exec' | 'shell-line' | 'sftp' | 'forward'>;

export interface SshSessionOptions {
  readonly ctx: EngineContext;
  readonly client: Connection;
  readonly identity: Identity;
  readonly name: string;
  readonly connection: SshConnectionConfig;
  readonly clientAddress: string;
  readonly clientSoftware: string | null;
  readonly hostKeys: HostKeyStore;
  readonly onEnd: (s: SshSession) => void;
}

/** Why the session has no target, told to every channel the client opens. */
export interface SessionFailure {
  readonly message: string;
  readonly exitCode: number;
}

/**
 * One authenticated client connection and its one connection to the target. Channels (shells, exec,
 * sftp, port forwards) are multiplexed over both, like SSH itself; the recording is per connection and
 * events carry the channel number.
 */
export class SshSession {
  rec: SessionRecorder | undefined;
  target: TargetConnection | undefined;
  failure: SessionFailure | undefined;
  readonly storedMask: ValueMasker;
  readonly maskCounts: Record<string, number> = {};
  /** Resolves with the target connection, or undefined when it could not be had (see `failure`). */
  readonly ready: Promise<TargetConnection | undefined>;
  readonly channels = new Set<SessionChannel>();
  /** Runs the connection's asynchronous handlers: a failure in one ends this connection only. */
  readonly guard: Boundary;
  /** Whether the client's and the target's sockets can take more (see SocketRoom). */
  readonly clientRoom: SocketRoom;
  targetRoom: SocketRoom | undefined;
  private pathResolver: PathResolver | undefined;
  private readonly policy: ConnectionPolicy;
  private channelSeq = 0;
  private forwards = 0;
  private ended = false;
  private endReason = 'client_disconnected';
  private readonly reviewAbort = new AbortController();
  private unregister: () => void = () => {};
  private resolveClosed!: () => void;
  /** Resolves once the session has ended and its recording is sealed. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(readonly o: SshSessionOptions) {
    const compiled = o.ctx.policies.get(o.name);
    this.policy = compiled.policy;
    this.storedMask = compiled.storedMasker(randomBytes(32));
    const { client } = o;
    this.clientRoom = SocketRoom.of(client);
    this.guard = connectionBoundary(client, o.ctx.log, o.clientAddress, (what, err) => {
      this.endReason = 'gateway_error';
      this.rec?.record('ssh.internal_error', { what, message: err.message }, { outcome: 'error' });
    });
    const caps = o.connection.channels;
    client.on('session', (accept: AcceptConnection<Session>, reject: RejectConnection) => {
      if (this.channels.size >= caps.sessions) return this.refuseChannel(reject, 'session', caps.sessions);
      const session = accept();
      if (!session) return;
      const channel = new SessionChannel(this, session, ++this.channelSeq);
      this.channels.add(channel);
      void channel.done.then(() => {
        this.channels.delete(channel);
        this.idleEnd?.();
      });
    });
    client.on('tcpip', (accept, reject: RejectConnection, info: TcpipRequestInfo) => {
      if (this.forwards >= caps.forwards) return this.refuseChannel(reject, 'direct-tcpip', caps.forwards);
      this.forwards++;
      let open = true;
      const closed = () => {
        if (open) this.forwards--;
        open = false;
      };
      const refuse = () => {
        closed();
        reject();
      };
      this.guard(handleForward(this, accept, refuse, info, ++this.channelSeq, closed), 'port forward');
    });
    client.on('error', (err: Error) => o.ctx.log.debug({ err: err.message, client: o.clientAddress }, 'ssh client connection error'));
    client.on('close', () => this.finish(this.endReason));
    this.ready = this.open();
    this.guard(this.ready, 'target connection');
  }

  /** Over the connection's `channels` cap: refused (RESOURCE_SHORTAGE) and recorded. */
  private refuseChannel(reject: RejectConnection, type: string, cap: number): void {
    this.rec?.record('ssh.channel_refused', { type, reason: `at most ${cap} open ${type} channels per connection` }, { outcome: 'denied' });
    reject();
  }

  /** What SFTP and scp paths name on the target; only once the target is connected. */
  paths(): PathResolver {
    if (!this.target) throw new Error('no target connection to resolve paths on');
    this.pathResolver ??= new PathResolver(this.target.client);
    return this.pathResolver;
  }

  get identity(): Identity {
    return this.o.identity;
  }

  get limits() {
    return this.o.connection.recording ?? this.o.ctx.config.recording;
  }

  private async open(): Promise<TargetConnection | undefined> {
    const { ctx, name, connection } = this.o;
    try {
      this.rec = await ctx.recorder.open({
        protocol: 'ssh', connection: name, identity: this.o.identity, clientAddress: this.o.clientAddress, application: this.o.clientSoftware,
      });
    } catch (err) {
      this.fail({ message: clientMessage(err, 'the recording store is unavailable'), exitCode: 255 }, 'recording_unavailable');
      return undefined;
    }
    this.unregister = ctx.live.add({ id: this.rec.id, protocol: 'ssh', identity: this.o.identity, terminate: (message, reason) => this.terminate(message, reason) });
    if (this.ended) {
      this.unregister();
      return undefined;
    }
    try {
      const target = await connectTarget({ name, connection, hostKeys: this.o.hostKeys });
      this.rec.record('ssh.target', {
        host: connection.host, port: connection.port, user: connection.user, hostKey: target.hostKey.fingerprint, trust: target.hostKey.trust,
      });
      if (this.ended) {
        target.client.end();
        return undefined;
      }
      this.target = target;
      this.targetRoom = SocketRoom.of(target.client);
      target.client.on('error', (err: Error & { level?: string }) => {
        this.endReason = `target_error: ${(err as NodeJS.ErrnoException).code ?? err.level ?? err.message}`;
      });
      target.client.on('close', () => this.onTargetGone());
      return target;
    } catch (err) {
      const message = clientMessage(err, 'the target is unavailable');
      if (err instanceof HostKeyMismatchError) {
        this.rec.record('ssh.hostkey_mismatch', { target: err.target, expected: err.expected, presented: err.presented, source: err.source }, { outcome: 'denied' });
      }
      this.rec.record('session.target_failed', { message }, { outcome: 'error' });
      this.fail({ message, exitCode: 255 }, err instanceof HostKeyMismatchError ? 'target_host_key_mismatch' : 'target_unavailable');
      return undefined;
    }
  }

  /** No target: channels opened now are told why; the client is disconnected shortly after. */
  private fail(failure: SessionFailure, reason: string): void {
    this.failure = failure;
    this.endReason = reason;
    this.o.ctx.log.info({ client: this.o.clientAddress, connection: this.o.name, reason, err: failure.message }, 'ssh session has no target');
    setTimeout(() => this.endClientWhenIdle(), 2_000).unref();
  }

  /** Ends the client connection once every channel has reported. */
  private endClientWhenIdle(): void {
    const pending = [...this.channels].map((c) => c.done);
    // OpenSSH leaves by itself once its channels are closed; end stragglers (`ssh -N`) shortly after.
    void Promise.all(pending).then(() => setTimeout(() => this.o.client.end(), 500).unref());
  }

  /** Called by a channel that told the client about a failure: nothing more can happen on this connection. */
  channelReported(): void {
    if (this.failure) this.endClientWhenIdle();
  }

  private onTargetGone(): void {
    if (this.ended) return;
    if (this.endReason === 'client_disconnected') this.endReason = 'target_disconnected';
    this.failure ??= { message: 'the target closed the connection', exitCode: 255 };
    // Each channel sees its target channel close and reports; then the client goes too.
    const pending = [...this.channels].map((c) => c.done);
    const timer = setTimeout(() => this.o.client.end(), 5_000);
    void Promise.all(pending).then(() => {
      clearTimeout(timer);
      setTimeout(() => this.o.client.end(), 500).unref();
    });
  }

  /**
   * The policy's decision for one command, failing closed while the recording store is unhealthy.
   * Denials are recorded here; reviews are resolved with `review`.
   */
  decide(kind: SshCommandKind, text: string, unknown?: string): Decision {
    let d: Decision;
    if (this.rec && !this.rec.healthy) {
      d = { action: 'deny', rule: 'recording', reason: 'the recording store is unavailable, so commands are refused until it recovers' };
    } else {
      d = this.policy.decide({ protocol: 'ssh', kind, text, ...(unknown ? { unknown } : {}) }, this.o.identity);
    }
    if (d.action === 'deny') this.recordDenial(kind, text, d.rule, d.reason);
    return d;
  }

  recordDenial(kind: SshCommandKind, text: string, rule: string, reason: string): void {
    const masked = this.mask(text);
    this.rec?.record('policy.deny', { kind, text: masked, rule, reason }, { searchText: masked, outcome: 'denied' });
  }

  /**
   * Holds a command for a reviewer. Resolves with whether it may run, and if not, why. `tell` shows the client,
   * the moment the command is held, which review it waits for and who may decide it.
   */
  async review(kind: SshCommandKind, text: string, d: Extract<Decision, { action: 'review' }>, tell?: (line: string) => void): Promise<{ approved: boolean; reason: string }> {
    const masked = this.mask(text);
    this.rec?.record('review.requested', { kind, text: masked, rule: d.rule, approvers: d.approvers }, { searchText: masked, outcome: 'reviewed' });
    const reviews = this.o.ctx.reviews;
    let result: { approved: boolean; reason: string };
    if (!reviews) {
      result = { approved: false, reason: `${d.reason}, but reviews are not enabled on this gateway` };
    } else {
      try {
        const r = await reviews.request(
          {
            sessionId: this.rec?.id ?? '', connection: this.o.name, requester: this.o.identity,
            command: { protocol: 'ssh', kind, text: masked }, exact: text, rule: d.rule, approvers: d.approvers, reason: d.reason,
          },
          this.reviewAbort.signal,
          (h) => tell?.(`Airlock: ${heldLine(h)}`),
        );
        this.rec?.record('review.decided', { reviewId: r.reviewId, approved: r.approved, reviewer: r.reviewer ?? null, reason: r.reason ?? null, rule: d.rule });
        result = r.approved
          ? { approved: true, reason: '' }
          : { approved: false, reason: `denied by reviewer${r.reviewer ? ` ${r.reviewer}` : ''}: ${r.reason ?? 'no reason given'}` };
      } catch (err) {
        result = { approved: false, reason: `review failed: ${(err as Error).message}` };
      }
    }
    if (!result.approved) this.recordDenial(kind, text, d.rule, result.reason);
    return result;
  }

  /** Allow, or deny with a reason, holding for review when the policy says so. */
  async authorize(kind: SshCommandKind, text: string, tell?: (line: string) => void): Promise<{ ok: true; outcome: 'allowed' | 'reviewed' } | { ok: false; reason: string }> {
    const d = this.decide(kind, text);
    if (d.action === 'allow') return { ok: true, outcome: 'allowed' };
    if (d.action === 'deny') return { ok: false, reason: d.reason };
    const r = await this.review(kind, text, d, tell);
    return r.approved ? { ok: true, outcome: 'reviewed' } : { ok: false, reason: r.reason };
  }

  /** Whether an allow-list of commands holds this session's identity. */
  get listsCommands(): boolean {
    return this.policy.listsCommands(this.o.identity);
  }

  mask(text: string): string {
    return this.storedMask.maskText(text, this.maskCounts);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  private idleEnd: (() => void) | undefined;

  /** Ends the session like terminate() once none of its session channels (shell, exec, sftp) is open; forwards are not waited for. */
  endWhenIdle(message: string, reason: string): void {
    this.idleEnd = () => {
      if (this.channels.size === 0) this.terminate(message, reason);
    };
    this.idleEnd();
  }

  /** Ends the session from the gateway side (shutdown), telling every channel why. */
  terminate(message: string, reason: string): void {
    if (this.ended) return;
    this.endReason = reason;
    this.failure = { message, exitCode: 255 };
    const pending = [...this.channels].map((c) => c.abort(message));
    void Promise.race([Promise.all(pending), new Promise((r) => setTimeout(r, 2_000))]).then(() => {
      this.o.client.end();
      this.finish(reason);
    });
  }

  private finish(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.unregister();
    this.reviewAbort.abort();
    for (const c of this.channels) c.abort();
    this.target?.client.end();
    void this.ready
      .then(async () => {
        if (!this.rec) return;
        const masked = Object.keys(this.maskCounts).length ? { masked: this.maskCounts } : undefined;
        await this.rec.end(reason, masked);
      })
      .catch((err: Error) => {
        this.o.ctx.log.error({ session: this.rec?.id, err: err.message }, 'could not seal session; it will be sealed as interrupted at next start');
      })
      .finally(() => {
        this.o.onEnd(this);
        this.resolveClosed();
      });
  }
}
