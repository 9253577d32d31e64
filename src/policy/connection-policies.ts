import type { Identity } from '../core/identity.ts';
import { allowAll, type ConnectionPolicy } from './types.ts';

/** Masks text and values before they are stored or, for live masking, shown. */
export interface ValueMasker {
  maskText(text: string, counts?: Record<string, number>): string;
  maskValue(column: string, value: string, counts?: Record<string, number>): string;
  /** Whether anything could be masked at all (lets adapters skip work). */
  readonly active: boolean;
}

export const noMasking: ValueMasker = {
  maskText: (t) => t,
  maskValue: (_c, v) => v,
  active: false,
};

/** What an adapter needs to enforce one connection's rules. Built once per connection at start. */
export interface CompiledConnectionPolicy {
  readonly policy: ConnectionPolicy;
  /** Applied to everything stored. */
  storedMasker(sessionKey: Buffer): ValueMasker;
  /** Applied to what this identity sees, or undefined when it sees real data. */
  liveMasker(identity: Identity, sessionKey: Buffer): ValueMasker | undefined;
}

export interface ConnectionPolicies {
  get(connection: string): CompiledConnectionPolicy;
}

export const permissivePolicy: CompiledConnectionPolicy = {
  policy: allowAll,
  storedMasker: () => noMasking,
  liveMasker: () => undefined,
};
