import type { Config } from '../config/schema.ts';
import type { Identity } from '../core/identity.ts';
import type { Logger } from '../core/logger.ts';
import type { Authenticator } from '../identity/authenticator.ts';
import type { Role } from '../identity/roles.ts';
import type { TokenService } from '../identity/tokens.ts';
import type { ReviewService } from '../reviews/service.ts';
import type { Store } from '../store/types.ts';
import type { PublicKeyInfo } from '../recording/keys.ts';

/** What the control plane needs; built by server/. The API never touches protocol adapters. */
export interface ApiContext {
  readonly config: Config;
  readonly store: Store;
  readonly authenticator: Authenticator;
  readonly tokens: TokenService;
  readonly reviews: ReviewService;
  readonly publicKeys: () => readonly PublicKeyInfo[];
  readonly log: Logger;
}

export interface Caller {
  readonly identity: Identity;
  readonly roles: ReadonlySet<Role>;
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
  interface FastifySchema {
    /** Shown in the OpenAPI document. */
    description?: string;
  }
  interface FastifyContextConfig {
    /** Roles allowed to call the route; a route without it is refused (deny by default). */
    roles?: readonly Role[] | 'public';
  }
}
