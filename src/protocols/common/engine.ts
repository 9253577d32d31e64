import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Config, ConnectionConfig } from '../../config/schema.ts';
import type { Logger } from '../../core/logger.ts';
import type { AuthThrottle } from '../../identity/auth-throttle.ts';
import type { Authenticator } from '../../identity/authenticator.ts';
import type { Recorder } from '../../recording/recorder.ts';
import type { ConnectionPolicies } from '../../policy/connection-policies.ts';
import type { ReviewGate } from '../../reviews/types.ts';
import type { LiveSessions } from './live-sessions.ts';
import type { PreAuth } from './pre-auth.ts';

/** Everything an engine may use; built once by server/ and handed to each engine. */
export interface EngineContext {
  readonly config: Config;
  readonly authenticator: Authenticator;
  /** The gateway's one count of failed logins: every listener and the API slow down the same guesser. */
  readonly throttle: AuthThrottle;
  readonly recorder: Recorder;
  readonly policies: ConnectionPolicies;
  /** Where review decisions come from; without one, review rules deny. */
  readonly reviews?: ReviewGate;
  /** The gateway's own TLS identity toward clients. */
  readonly serverTls: SecureContext;
  /** The gateway's data dir (absolute), for engine-held material such as the SSH host key. */
  readonly dataDir?: string;
  readonly log: Logger;
  /** Where each engine registers its live sessions, so revocation, locks and terminate requests can end them. */
  readonly live: LiveSessions;
  connection(name: string): ConnectionConfig | undefined;
}

/** One protocol adapter. `handle` owns the socket from accept to close. */
export interface ProtocolEngine {
  readonly protocol: string;
  /** `preAuth`: the connection's deadline for authenticating; the engine calls `passed()` once it has. */
  handle(socket: Socket, preAuth: PreAuth): void;
  /** Turns a connection away before reading anything from it (a pre-auth cap), in the protocol's own way. */
  refuse(socket: Socket, message: string): void;
  /** Number of live sessions. */
  readonly activeSessions: number;
  /**
   * Takes no new sessions, and ends each live one (recording `reason`) once nothing runs in it; resolves when
   * all have ended. The gateway calls close() on whatever is left when its drain timeout passes.
   */
  drain(reason: string): Promise<void>;
  /** Ends every live session (recording their end reason) and resolves when they are sealed. */
  close(reason?: string): Promise<void>;
}

export type EngineFactory = (ctx: EngineContext) => ProtocolEngine;
