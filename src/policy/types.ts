import type { Identity } from '../core/identity.ts';

/** A protocol-neutral command, as an adapter sees it before forwarding. */
export interface Command {
  readonly protocol: string; // 'postgres' | 'ssh' | …
  /** query: SQL text; exec: a remote command; shell-line: a line typed in an interactive shell; sftp; forward. */
  readonly kind: 'query' | 'exec' | 'shell-line' | 'sftp' | 'forward';
  readonly text: string;
  readonly params?: readonly (string | null)[];
  /** Set by the adapter when it could not see the command exactly (a typed line edited with cursor keys): why. */
  readonly unknown?: string;
}

export type Decision =
  | { readonly action: 'allow' }
  | { readonly action: 'deny'; readonly rule: string; readonly reason: string }
  | { readonly action: 'review'; readonly rule: string; readonly approvers: readonly string[]; readonly reason: string };

export const ALLOW: Decision = Object.freeze({ action: 'allow' });

/** Compiled, pure policy for one connection. */
export interface ConnectionPolicy {
  decide(command: Command, identity: Identity): Decision;
  /** Whether an allow-list of commands holds the connection (an interactive terminal cannot be checked exactly). */
  listsCommands(identity: Identity): boolean;
  /**
   * The decision, later, for a command that cannot be analysed on the event loop (a long SQL text, classified in a
   * worker); undefined when `decide` can answer now. Adapters call this first and hold the client while it runs.
   */
  decideLater?(command: Command, identity: Identity): Promise<Decision> | undefined;
}

/** Policy that allows everything (a connection with no rules). */
export const allowAll: ConnectionPolicy = { decide: () => ALLOW, listsCommands: () => false };
