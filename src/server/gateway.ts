import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { LoadedConfig } from '../config/load.ts';
import { parseListen } from '../config/load.ts';
import { createLogger, type Logger } from '../core/logger.ts';
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
}

/** The running gateway: store, recorder, engines and their listeners. The only place that wires everything. */
export class Gateway {
  readonly listeners = new Map<string, ListenerAddress>();
  private readonly servers: Server[] = [];
  private readonly engines: ProtocolEngine[] = [];
  private api: FastifyInstance | undefined;
  private readonly jobs: (() => Promise<void>)[] = [];
  private state: 'starting' | 'running' | 'stopping' = 'starting';

  private constructor(
    readonly loaded: LoadedConfig,
    readonly store: Store,
    readonly recorder: Recorder,
    readonly tokens: TokenService,
    readonly keys: KeyRing,
    readonly reviews: ReviewService,
    readonly log: Logger,
  ) {}

  static async start(loaded: LoadedConfig, options: GatewayOptions = {}): Promise<Gateway> {
    const log = options.log ?? createLogger();
    mkdirSync(loaded.dataDir, { recursive: true, mode: 0o700 });
    const store = options.store ?? openStore(loaded.dataDir);
    const keys = KeyRing.load(loaded.dataDir);
    const recorder = new Recorder(store, keys, log, options.recorder);
    const recovered = await recorder.recoverInterrupted();
    if (recovered) log.warn({ sessions: recovered }, 'sealed sessions left open by an earlier run');
    const tokens = new TokenService(store, loaded.config.identity);
    const tls = await loadServerTls(loaded.dataDir, loaded.config.tls);
    const { config } = loaded;
    const verifiers: CredentialVerifier[] = [{ name: 'gateway-token', accepts: looksLikeGatewayToken, verify: (t, c) => tokens.verify(t, c.protocol) }];
    // Tokens from external OIDC providers (CI jobs, agents): tried after the gateway's own tokens.
    if (config.identity.oidc.length > 0) verifiers.push(await OidcVerifier.create(config.identity.oidc, { log }));
    const authenticator = new LockingAuthenticator(new ChainAuthenticator(verifiers), store);
    const liveSessions = new LiveSessions();
    const reviews = new ReviewService(store, config, log);
    const ctx: EngineContext = {
      config,
      authenticator,
      recorder,
      policies: await buildConnectionPolicies(config),
      reviews: options.reviews ?? reviews,
      serverTls: tls.context,
      dataDir: loaded.dataDir,
      log,
      live: liveSessions,
      connection: (name) => (Object.hasOwn(config.connections, name) ? config.connections[name] : undefined),
    };
    const gw = new Gateway(loaded, store, recorder, tokens, keys, reviews, log);
    const fs = forensicsSettings(config);
    gw.jobs.push(
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
        gw.state !== 'running' ? `the gateway is ${gw.state}` : recorder.healthy ? undefined : 'the recording store refuses writes (new sessions and commands are refused)';
      const admin = new AdminActions(store, tokens);
      const api = await buildApi({ config, store, authenticator, tokens, admin, reviews, publicKeys: () => keys.keys, keys, live, metrics, notReady, log });
      const { host, port } = parseListen(config.listen.api);
      await api.listen({ host, port });
      const bound = api.server.address() as AddressInfo;
      gw.api = api;
      gw.listeners.set('api', { host, port: bound.port });
      log.info({ protocol: 'api', address: `${host}:${bound.port}` }, 'listening');
    }
    for (const [key, address] of Object.entries(config.listen)) {
      const factory = ENGINES[key];
      if (!factory || !address) continue;
      const engine = factory(ctx);
      gw.engines.push(engine);
      const server = createServer({ pauseOnConnect: false, noDelay: true }, (socket) => engine.handle(socket));
      const { host, port } = parseListen(address);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const bound = server.address() as AddressInfo;
      gw.listeners.set(key, { host, port: bound.port });
      gw.servers.push(server);
      log.info({ protocol: key, address: `${host}:${bound.port}` }, 'listening');
    }
    gw.state = 'running';
    return gw;
  }

  get activeSessions(): number {
    return this.engines.reduce((n, e) => n + e.activeSessions, 0);
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    for (const s of this.servers) s.close();
    this.reviews.close();
    await this.api?.close();
    await Promise.all(this.engines.map((e) => e.close('gateway_shutdown')));
    await this.recorder.close();
    await Promise.all(this.jobs.map((stop) => stop()));
    await this.store.close();
  }
}
