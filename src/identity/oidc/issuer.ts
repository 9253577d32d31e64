import type { OidcIssuerConfig } from '../../config/schema.ts';
import { parseDuration } from '../../core/duration.ts';
import { AirlockError, ErrorCodes } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { discover, type ProviderMetadata } from './discovery.ts';
import { Introspector } from './introspection.ts';
import { JwksCache } from './jwks.ts';
import { insecureUrlReason } from './url.ts';

/** Asymmetric algorithms accepted when an issuer does not list its own. Never `none`, never HS*. */
export const DEFAULT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA', 'Ed25519'] as const;
const ASYMMETRIC = /^(?:RS|PS|ES)(?:256|384|512)$|^EdDSA$|^Ed25519$|^Ed448$/;
const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface IssuerRuntimeOptions {
  readonly log?: Logger;
  readonly now?: () => number;
  /** For HTTP calls to the provider (default 5 s). */
  readonly timeoutMs?: number;
}

/** One trusted issuer: its settings, metadata (discovered lazily, retried), keys and introspection client. */
export class TrustedIssuer {
  readonly issuer: string;
  readonly audience: string[];
  readonly algorithms: string[];
  readonly clockSkewSec: number;
  private jwksReady: Promise<JwksCache> | undefined;
  private metadata: ProviderMetadata | undefined;
  private discovering: Promise<ProviderMetadata> | undefined;
  private lastDiscoveryFailure = Number.NEGATIVE_INFINITY;
  private lastDiscoveryError = '';
  private introspector: Introspector | undefined;
  private readonly now: () => number;

  constructor(
    readonly config: OidcIssuerConfig,
    private readonly options: IssuerRuntimeOptions = {},
  ) {
    const bad = insecureUrlReason(config.issuer);
    if (bad) throw new AirlockError(ErrorCodes.config, `OIDC issuer: ${bad}`);
    this.issuer = config.issuer;
    this.audience = typeof config.audience === 'string' ? [config.audience] : [...config.audience];
    this.algorithms = [...(config.algorithms ?? DEFAULT_ALGORITHMS)];
    const weak = this.algorithms.find((a) => !ASYMMETRIC.test(a));
    if (weak) throw new AirlockError(ErrorCodes.config, `OIDC issuer ${config.issuer}: algorithm ${weak} is not allowed (asymmetric signatures only)`);
    const skewMs = config.clockSkew ? parseDuration(config.clockSkew) : 30_000;
    if (skewMs > MAX_CLOCK_SKEW_MS) throw new AirlockError(ErrorCodes.config, `OIDC issuer ${config.issuer}: clockSkew may be at most 5m`);
    this.clockSkewSec = Math.round(skewMs / 1000);
    this.now = options.now ?? Date.now;
    this.jwksCooldownMs = config.jwksCooldown ? parseDuration(config.jwksCooldown) : 30_000;
    // With an explicit jwksUri the key set needs no discovery; otherwise its URI is discovered on first use.
    if (config.jwksUri) this.jwksReady = Promise.resolve(this.newJwks(config.jwksUri));
  }

  private readonly jwksCooldownMs: number;

  private newJwks(uri: string): JwksCache {
    return new JwksCache(uri, { cooldownMs: this.jwksCooldownMs, log: this.options.log, now: this.options.now, timeoutMs: this.options.timeoutMs });
  }

  /** Client credentials for introspection, when configured. */
  get introspects(): boolean {
    return this.config.introspection !== undefined;
  }

  /** Discovery and keys up front, so the first login does not wait; failures are logged and retried later. */
  async warmUp(): Promise<void> {
    try {
      const jwks = await this.keys();
      await jwks.prefetch();
      if (this.introspects) await this.introspection();
      this.options.log?.info({ issuer: this.issuer, kids: jwks.kids }, 'OIDC issuer ready');
    } catch (err) {
      this.options.log?.warn({ issuer: this.issuer, err: (err as Error).message }, 'OIDC issuer not reachable yet; will retry on first use');
    }
  }

  /** The key set, after discovery when no jwksUri is configured. */
  async keys(): Promise<JwksCache> {
    if (this.jwksReady) return this.jwksReady;
    const meta = await this.discover();
    this.jwksReady ??= Promise.resolve(this.newJwks(meta.jwksUri));
    return this.jwksReady;
  }

  async introspection(): Promise<Introspector> {
    if (this.introspector) return this.introspector;
    const cfg = this.config.introspection;
    if (!cfg) throw new Error(`issuer ${this.issuer} has no introspection configured`);
    const endpoint = cfg.endpoint ?? (await this.discover()).introspectionEndpoint;
    if (!endpoint) throw new Error(`issuer ${this.issuer} publishes no introspection_endpoint; set introspection.endpoint`);
    this.introspector ??= new Introspector({
      endpoint,
      clientId: (cfg.clientId ?? this.config.clientId)!,
      clientSecret: (cfg.clientSecret ?? this.config.clientSecret)!,
      cacheTtlMs: cfg.cacheTtl ? parseDuration(cfg.cacheTtl) : 30_000,
      timeoutMs: this.options.timeoutMs,
      now: this.options.now,
      log: this.options.log,
    });
    return this.introspector;
  }

  /** Provider metadata; a failed discovery is retried at most every 5 s. */
  private async discover(): Promise<ProviderMetadata> {
    if (this.metadata) return this.metadata;
    if (this.now() - this.lastDiscoveryFailure < 5_000) throw new Error(this.lastDiscoveryError);
    this.discovering ??= discover(this.issuer, { timeoutMs: this.options.timeoutMs })
      .then((m) => (this.metadata = m))
      .catch((err: Error) => {
        this.lastDiscoveryFailure = this.now();
        this.lastDiscoveryError = err.message;
        throw err;
      })
      .finally(() => {
        this.discovering = undefined;
      });
    return this.discovering;
  }
}
