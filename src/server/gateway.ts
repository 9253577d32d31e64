import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { LoadedConfig } from '../config/load.ts';
import { parseListen } from '../config/load.ts';
import { createLogger, type Logger } from '../core/logger.ts';
import { AuthThrottle } from '../identity/auth-throttle.ts';
import { ChainAuthenticator, type CredentialVerifier } from '../identity/authenticator.ts';
import { LockingAuthenticator } from '../identity/locks.ts';
import { LiveSessions } from '../protocols/common/live-sessions.ts';
import { startSessionControl } from './session-control.ts';
import { OidcVerifier } from '../identity/oidc/verifier.ts';
import { TokenService, looksLikeGatewayToken } from '../identity/tokens.ts';
import type { EngineContext, EngineFactory, ProtocolEngine } from '../protocols/common/engine.ts';
import { PostgresEngine } from '../protocols/postgres/engine.ts';
import { SshEngine } from '../protocols/ssh/engine.ts';
import { KeyRing } from '../recording/keys.ts';
import { Recorder, type RecorderOptions } from '../recording/recorder.ts';
import type { ReviewGate } from '../reviews/types.ts';
import { ReviewService } from '../reviews/service.ts';
import { buildApi } from '../api/app.ts';
import { AdminActions } from '../admin/actions.ts';
import { LiveHub } from '../api/live-hub.ts';
import { GatewayMetrics } from '../api/metrics.ts';
import type { FastifyInstance } from 'fastify';
import { openStore } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import { buildConnectionPolicies } from './policies.ts';
import { forensicsSettings } from '../recording/forensics-config.ts';
import { startCheckpointing } from '../recording/checkpoint.ts';
import { startRetention } from '../recording/retention.ts';
import { loadServerTls } from './tls.ts';
import { InstanceLeaseHolder, type LeaseTiming } from './instance-lease.ts';
import { PreAuthGate } from '../protocols/common/pre-auth.ts';
import { parseDuration } from '../core/duration.ts';

/** Longest a stop waits for one of its steps (sessions sealing, the API closing) before going on without it. */
const STOP_STEP_MS = 10_000;

/** Whether `p` settles within `ms` (a rejection still rejects). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `p` (errors logged and swallowed), or at most `ms`: a stop never hangs on one step. */
async function bounded(what: string, p: Promise<unknown>, ms: number, log: Logger): Promise<void> {
  const caught = p.catch((err: Error) => log.warn({ err: err.message }, `stopping: ${what} failed`));
  if (!(await settlesWithin(caught, ms))) log.warn({ step: what, ms }, 'stopping: a step took too long; going on without it');
}

/** Protocol adapters by listener key in `listen:`. Adding a protocol means adding a line here. */
const ENGINES: Record<string, EngineFactory> = {
  postgres: (ctx) => new PostgresEngine(ctx),
  ssh: (ctx) => new SshEngine(ctx),
};

export interface ListenerAddress {
  readonly host: string;
  readonly port: number;
}

export interface GatewayOptions {
  readonly log?: Logger;
  readonly store?: Store;
  readonly reviews?: ReviewGate;
  readonly recorder?: RecorderOptions;
  /** Heartbeat and expiry of this gateway's instance lease (tests shorten them). */
  readonly lease?: LeaseTiming;
}

/** The running gateway: store, recorder, engines and their listeners. The only place that wires everything. */
export class Gateway {
  readonly listeners = new Map<string, ListenerAddress>();
  private readonly servers: Server[] = [];
  private readonly engines: ProtocolEngine[] = [];
  private api: FastifyInstance | undefined;
  private readonly jobs: (() => Promise<void>)[] = [];
  private state: 'starting' | 'running' | 'draining' | 'failed' | 'stopping' | 'stopped' = 'starting';
  private stopped: Promise<void> | undefined;
  private readonly preAuth: PreAuthGate;
  private resolveFailure!: (reason: string) => void;
  /** Resolves, with the reason, when the gateway failed in a way it cannot recover from (see fail()). */
  readonly failure = new Promise<string>((resolve) => (this.resolveFailure = resolve));

  private constructor(
    readonly loaded: LoadedConfig,
    readonly store: Store,
    readonly recorder: Recorder,
    readonly tokens: TokenService,
    readonly keys: KeyRing,
    readonly reviews: ReviewService,
    readonly log: Logger,
    readonly instance: InstanceLeaseHolder,
  ) {
    const { limits } = loaded.config;
    this.preAuth = new PreAuthGate({ timeoutMs: parseDuration(limits.preAuthTimeout), perSource: limits.maxPreAuthPerSource, total: limits.maxPreAuth });
  }

  /**
   * Claims this gateway's instance lease before anything else: before recovery seals what earlier runs left open
   * and before any listener binds. A SQLite data dir a live gateway uses is refused (see instance-lease.ts).
   */
  static async start(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const log = options.log ?? createLogger();
    mkdirSync(loaded.dataDir, { recursive: true, mode: 0o700 });
    const store = options.store ?? openStore(loaded.dataDir);
    let instance: InstanceLeaseHolder;
    try {
      instance = await InstanceLeaseHolder.claim(store, { exclusive: store.backend === 'sqlite', timing: options.lease, log, where: `data dir ${loaded.dataDir}` });
    } catch (err) {
      if (!options.store) await store.close();
      throw err;
    }
    let keys: KeyRing;
    try {
      keys = KeyRing.load(loaded.dataDir);
    } catch (err) {
      await instance.release();
      if (!options.store) await store.close();
      throw err;
    }
    const recorder = new Recorder(store, keys, log, { ...options.recorder, instanceId: instance.id });
    const tokens = new TokenService(store, loaded.config.identity);
    const reviews = new ReviewService(store, loaded.config, log);
    const gw = new Gateway(loaded, store, recorder, tokens, keys, reviews, log, instance);
    recorder.onFatal = (err) => gw.fail(`the recording store failed and cannot recover: ${err.message}`);
    instance.onLost = (reason) => gw.fail(reason);
    try {
      await gw.wire(options);
    } catch (err) {
      await gw.stop();
      throw err;
    }
    return gw;
  }

  private async wire(options: GatewayOptions): Promise<void> {
    const { loaded, store, recorder, tokens, keys, reviews, log } = this;
    const recovered = await recorder.recoverInterrupted(await this.instance.goneOwners());
    if (recovered) log.warn({ sessions: recovered }, 'sealed sessions left open by gateways that are gone');
    const tls = await loadServerTls(loaded.dataDir, loaded.config.tls);
    const { config } = loaded;
    const verifiers: CredentialVerifier[] = [{ name: 'gateway-token', accepts: looksLikeGatewayToken, verify: (t, c) => tokens.verify(t, c.protocol) }];
    // Tokens from external OIDC providers (CI jobs, agents): tried after the gateway's own tokens.
    if (config.identity.oidc.length > 0) verifiers.push(await OidcVerifier.create(config.identity.oidc, { log }));
    const authenticator = new LockingAuthenticator(new ChainAuthenticator(verifiers), store);
    const liveSessions = new LiveSessions();
    const throttle = new AuthThrottle({ free: config.limits.failedLoginsBeforeDelay });
    const ctx: EngineContext = {
      config,
      authenticator,
      throttle,
      recorder,
      policies: await buildConnectionPolicies(config),
      reviews: options.reviews ?? reviews,
      serverTls: tls.context,
      dataDir: loaded.dataDir,
      log,
      live: liveSessions,
      connection: (name) => (Object.hasOwn(config.connections, name) ? config.connections[name] : undefined),
    };
    const fs = forensicsSettings(config);
    this.jobs.push(
      startCheckpointing({ store, keys, dataDir: loaded.dataDir, intervalMs: fs.checkpointIntervalMs, webhookUrl: fs.checkpointWebhook, log }),
      startRetention({ store, keys, config, intervalMs: fs.retentionIntervalMs, log }),
      startSessionControl({ store, live: liveSessions, log }),
    );
    // Its own thread and connection; the store stops it when it closes.
    if (fs.compactAfterMs !== null) store.startCompaction?.({ afterMs: fs.compactAfterMs, log });
    if (config.listen.api) {
      const live = new LiveHub(store, log);
      const metrics = new GatewayMetrics(recorder, store);
      recorder.onWritten = (batch, ms) => {
        live.written(batch);
        metrics.written(batch, ms);
      };
      reviews.onChange = (r) => {
        live.reviewChanged(r);
        metrics.reviewChanged(r);
      };
      const notReady = () =>
        this.state !== 'running' ? this.state : recorder.healthy ? undefined : 'the recording store refuses writes (new sessions and commands are refused)';
      const admin = new AdminActions(store, tokens);
      const api = await buildApi({ config, store, authenticator, throttle, tokens, admin, reviews, publicKeys: () => keys.keys, keys, live, metrics, notReady, log });
      const { host, port } = parseListen(config.listen.api);
      await api.listen({ host, port });
      const bound = api.server.address() as AddressInfo;
      this.api = api;
      this.listeners.set('api', { host, port: bound.port });
      log.info({ protocol: 'api', address: `${host}:${bound.port}` }, 'listening');
    }
    for (const [key, address] of Object.entries(config.listen)) {
      const factory = ENGINES[key];
      if (!factory || !address) continue;
      const engine = factory(ctx);
      this.engines.push(engine);
      const server = createServer({ pauseOnConnect: false, noDelay: true }, (socket) => {
        const preAuth = this.state === 'running' ? this.preAuth.admit(socket) : 'the gateway is shutting down';
        if (typeof preAuth === 'string') engine.refuse(socket, preAuth);
        else engine.handle(socket, preAuth);
      });
      const { host, port } = parseListen(address);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const bound = server.address() as AddressInfo;
      this.listeners.set(key, { host, port: bound.port });
      this.servers.push(server);
      log.info({ protocol: key, address: `${host}:${bound.port}` }, 'listening');
    }
    if (this.state === 'starting') this.state = 'running';
  }

  get activeSessions(): number {
    return this.engines.reduce((n, e) => n + e.activeSessions, 0);
  }

  private closeListeners(): void {
    for (const s of this.servers.splice(0)) s.close();
  }

  /**
   * SIGTERM: refuses new connections at once (/readyz says "draining"), lets every session finish what it is
   * running (PostgreSQL: the statement in flight; SSH: open shells and commands) up to `limits.drainTimeout`,
   * ends each session as it goes idle and the rest at the timeout (end reason `gateway_shutdown`), then stops.
   */
  async drain(timeoutMs = parseDuration(this.loaded.config.limits.drainTimeout)): Promise<void> {
    if (this.state === 'running') {
      this.state = 'draining';
      this.closeListeners();
      this.log.info({ sessions: this.activeSessions, timeoutMs }, 'draining: new connections are refused; sessions end as their statements finish');
      const drained = Promise.all(this.engines.map((e) => e.drain('gateway_shutdown')));
      if (!(await settlesWithin(drained, timeoutMs))) this.log.warn({ sessions: this.activeSessions }, 'drain timeout passed; ending the remaining sessions');
    }
    await this.stop();
  }

  /**
   * A failure the gateway cannot recover from (the store refuses writes for good, or its instance lease was taken
   * over): rather than refuse everything forever, it stops taking connections, ends its sessions with an error to
   * their clients, and reports `failure` (the gateway command then exits non-zero).
   */
  fail(reason: string): void {
    if (this.state === 'failed' || this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'failed';
    this.log.error({ reason, sessions: this.activeSessions }, 'gateway failed; ending sessions and stopping');
    this.recorder.stop(new Error(reason));
    this.closeListeners();
    for (const e of this.engines) void e.close('gateway_failed').catch(() => {});
    this.resolveFailure(reason);
  }

  /** Ends every session now and releases everything; idempotent, and bounded in time whatever the store does. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    const log = this.log;
    if (this.state !== 'failed') this.state = 'stopping';
    this.closeListeners();
    this.preAuth.closeAll();
    this.reviews.close();
    await bounded('ending sessions', Promise.all(this.engines.map((e) => e.close('gateway_shutdown'))), STOP_STEP_MS, log);
    await bounded('closing the API', this.api?.close() ?? Promise.resolve(), STOP_STEP_MS, log);
    await bounded('writing the last events', this.recorder.close(), STOP_STEP_MS, log);
    await bounded('stopping background jobs', Promise.all(this.jobs.map((stop) => stop())), STOP_STEP_MS, log);
    await this.instance.release();
    await bounded('closing the store', this.store.close(), STOP_STEP_MS, log);
    this.state = 'stopped';
  }
}
