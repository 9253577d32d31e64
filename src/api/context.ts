import type { AdminActions } from '../admin/actions.ts';
import type { Config } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import type { Logger } from '../core/logger.ts';
import type { AuthThrottle } from '../identity/auth-throttle.ts';
import type { Authenticator } from '../identity/authenticator.ts';
import type { Role } from '../identity/roles.ts';
import type { TokenService } from '../identity/tokens.ts';
import type { ReviewService } from '../reviews/service.ts';
import type { Store } from '../store/types.ts';
import type { KeyRing, PublicKeyInfo } from '../recording/keys.ts';
import type { LiveHub } from './live-hub.ts';
import type { GatewayMetrics } from './metrics.ts';

/** What the control plane needs; built by server/. The API never touches protocol adapters. */
export interface ApiContext {
  readonly config: Config;
  readonly store: Store;
  readonly authenticator: Authenticator;
  /** Failed logins, shared with the protocol listeners. */
  readonly throttle: AuthThrottle;
  readonly tokens: TokenService;
  /** Administrative changes, audited the same way the CLI's are. */
  readonly admin: AdminActions;
  readonly reviews: ReviewService;
  readonly publicKeys: () => readonly PublicKeyInfo[];
  /** Signs exported evidence bundles. */
  readonly keys: KeyRing;
  readonly live: LiveHub;
  readonly metrics: GatewayMetrics;
  /** Why the gateway cannot take traffic now (a listener not up yet, shutting down), or undefined. */
  readonly notReady: () => string | undefined;
  readonly log: Logger;
}

export interface Caller {
  readonly identity: Identity;
  readonly roles: ReadonlySet<Role>;
  /** Whether the credential the caller presented is still valid (not revoked, expired or locked); for long streams. */
  readonly stillValid: () => Promise<boolean>;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifySchema {
    /** Shown in the OpenAPI document. */
    description?: string;
    /**
     * The 200 answer, for the OpenAPI document only: a JSON Schema of the JSON body, or media types
     * (`{'text/event-stream': {schema}}`) for anything else.
     */
    returns?: unknown;
  }
  interface FastifyContextConfig {
    /** Roles allowed to call the route; a route without it is refused (deny by default). */
    roles?: readonly Role[] | 'public';
    /** A bearer credential accepted besides the roles, checked first (the scraper's metrics token). */
    alsoAccepts?: (credential: string) => boolean;
  }
}
