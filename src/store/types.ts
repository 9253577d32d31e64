/**
 * The store interface. Every backend (sqlite/ now, postgres/ later) implements it and passes the shared
 * conformance suite in test/store-conformance.ts. Methods are async so a networked backend fits.
 */

export interface TokenRecord {
  readonly id: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  /** SHA-256 (hex) of the token's secret part; the secret itself is never stored. */
  readonly secretHash: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  readonly description: string | null;
  /**
   * The token this one was exchanged for (a browser session's token names the credential it came from): it is
   * valid only while that one is, and never past it. Null for tokens issued directly.
   */
  readonly parentId: string | null;
  /** Where it may be used: `all` (databases, SSH, API) or `console` (the HTTP API and web console only). */
  readonly scope: TokenScope;
}

export type TokenScope = 'all' | 'console';

export interface SessionRecord {
  readonly id: string;
  readonly protocol: string;
  readonly connection: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  readonly authMethod: string;
  readonly credentialId: string | null;
  readonly clientAddress: string;
  readonly application: string | null;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly endReason: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly eventCount: number;
  /** Hash of the last event (the head of the session's chain). */
  readonly lastHash: string | null;
  readonly legalHold: boolean;
}

export interface SessionEnd {
  readonly endedAt: number;
  readonly endReason: string;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly eventCount: number;
  readonly lastHash: string | null;
}

/** One recorded event. `hash = SHA-256(prevHash ‖ canonical(event))`, see recording/chain.ts. */
export interface StoredEvent {
  readonly sessionId: string;
  readonly seq: number;
  /** Milliseconds since the epoch, with microsecond fraction. */
  readonly time: number;
  /** Dotted name: session.start, db.query, db.result, db.error, policy.deny, review.decided, session.end … */
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** canonical(data), when the writer already computed it (saves serialising twice). */
  readonly dataJson?: string;
  readonly hash: string;
  /** Text indexed for search (already masked), or null. */
  readonly searchText?: string | null;
  /** allowed | denied | reviewed | error, for filtering; null when not a command. */
  readonly outcome?: string | null;
}

/** A store-wide, hash-chained ledger of session seals, tombstones and checkpoints; also the leaves of a Merkle tree. */
export interface LedgerEntry {
  readonly seq: number;
  readonly kind: 'seal' | 'tombstone' | 'checkpoint';
  readonly sessionId: string | null;
  readonly time: number;
  readonly data: Readonly<Record<string, unknown>>;
  readonly prevHash: string;
  readonly hash: string;
}

/** The perfect Merkle subtree over ledger leaves [index·2^level, (index+1)·2^level); leaf i is entry seq i+1. */
export interface MerkleNodeRef {
  readonly level: number;
  readonly index: number;
}

export interface MerkleNode extends MerkleNodeRef {
  /** 32 bytes. */
  readonly hash: Buffer;
}

/**
 * A running gateway's lease on the store (server/instance-lease.ts has the rules). Renewed by heartbeats; a lease that
 * has expired, or whose process is gone from this host, no longer protects the instance's open sessions.
 */
export interface InstanceLease {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
  readonly expiresAt: number;
}

/** An open session and the gateway instance recording it (null: recorded before instances were tracked). */
export interface OpenSessionOwner {
  readonly sessionId: string;
  readonly instanceId: string | null;
}

/** The outcomes a statement or command is recorded with (events.outcome). */
export const OUTCOMES = ['allowed', 'denied', 'reviewed', 'error'] as const;

export interface SessionFilter {
  readonly user?: string;
  readonly group?: string;
  readonly connection?: string;
  readonly protocol?: string;
  readonly since?: number;
  readonly until?: number;
  readonly open?: boolean;
  /** Sessions with at least one statement or command of this outcome; in a search, the outcome of the match. */
  readonly outcome?: string;
  readonly limit?: number;
}

export interface SearchFilter extends SessionFilter {
  readonly text: string;
}

export interface SearchHit {
  readonly sessionId: string;
  readonly seq: number;
  readonly time: number;
  readonly type: string;
  readonly snippet: string;
  readonly subject: string;
  readonly connection: string;
}

import type { ReviewStore } from './review-types.ts';
import type { ControlStore } from './control-types.ts';
import type { Logger } from '../core/logger.ts';

export interface Store extends ReviewStore, ControlStore {
  readonly backend: string;

  insertToken(token: TokenRecord): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;
  revokeToken(id: string, at: number): Promise<boolean>;

  /** `instanceId`: the gateway instance recording the session (its owner until it ends). */
  insertSession(session: SessionRecord, instanceId?: string): Promise<void>;
  /** Every open session with its owner. */
  openSessionOwners(): Promise<OpenSessionOwner[]>;

  /**
   * Adds `lease` to the store's instances in one atomic step, after dropping every other lease `isLive` says is not.
   * With `exclusive` (a store only one gateway may use: SQLite), a live lease held by another instance refuses the
   * claim: that lease is returned and nothing is written. Returns undefined once the lease is held.
   */
  claimInstance(lease: InstanceLease, isLive: (other: InstanceLease) => boolean, exclusive: boolean): Promise<InstanceLease | undefined>;
  /** Extends this instance's lease; false when it no longer exists (another instance judged it gone and dropped it). */
  renewInstance(id: string, heartbeatAt: number, expiresAt: number): Promise<boolean>;
  releaseInstance(id: string): Promise<void>;
  listInstances(): Promise<InstanceLease[]>;
  endSession(id: string, end: SessionEnd): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(filter?: SessionFilter): Promise<SessionRecord[]>;
  setLegalHold(id: string, hold: boolean): Promise<void>;
  /**
   * Deletes a session and everything recorded about it (retention): its events, the reviews raised in it (their
   * text) and the audit rows naming it. The caller records the tombstone.
   */
  deleteSession(id: string): Promise<void>;
  /**
   * Gives the space of deleted sessions back to the file system where the backend holds it (after a retention
   * purge), in short steps that let recording go on. Returns the bytes released (0 where there is nothing to do).
   */
  reclaimSpace(): Promise<number>;

  /** Appends events atomically (one transaction). */
  appendEvents(events: readonly StoredEvent[]): Promise<void>;
  /**
   * True when appendEvents may be called again before the previous call settled: batches are applied in call
   * order, and one handed over before an earlier batch's failure was reported fails too, applying nothing.
   */
  readonly pipelinedWrites?: boolean;
  /**
   * Starts re-encoding the recordings of sessions ended at least `afterMs` ago more compactly, in the background
   * and losslessly (the SQLite backend: brotli blocks, store/sqlite/compaction.mjs); stopped by close().
   * Backends without it store recordings in their final form.
   */
  startCompaction?(options: { readonly afterMs: number; readonly log?: Logger }): void;
  /** Events of one session in seq order, streamed in pages. */
  readEvents(sessionId: string, fromSeq?: number): AsyncIterable<StoredEvent>;
  /** Events of every session with `since <= time < until`, in recording order (which is time order unless the clock was set back or two processes wrote the store at once), joined with their session's identity fields (exports). */
  readEventsSince(since: number, until?: number): AsyncIterable<SessionEvent>;
  search(filter: SearchFilter): Promise<SearchHit[]>;

  appendLedger(entry: Omit<LedgerEntry, 'seq' | 'prevHash' | 'hash'>, hash: (prevHash: string, seq: number) => string): Promise<LedgerEntry>;
  readLedger(fromSeq?: number): AsyncIterable<LedgerEntry>;
  ledgerHead(): Promise<LedgerEntry | undefined>;
  /** The first seal entry naming this session (one per session is expected; the full audit reports more), by index. */
  findSeal(sessionId: string): Promise<LedgerEntry | undefined>;
  /** Hashes of the ledger's perfect Merkle subtrees (recording/merkle-index.ts); undefined where none is stored. */
  getMerkleNodes(refs: readonly MerkleNodeRef[]): Promise<(Buffer | undefined)[]>;
  /** Stores subtree hashes; one already stored at the same place is kept (they are a function of the ledger). */
  putMerkleNodes(nodes: readonly MerkleNode[]): Promise<void>;
  /** How many ledger entries have a stored leaf (level 0 holds leaves 0 … n-1 without gaps). */
  merkleLeafCount(): Promise<number>;
  /** Every session in id order after `afterId`, streamed in pages (verification, retention). */
  readSessions(afterId?: string): AsyncIterable<SessionRecord>;

  /** SSH public keys registered to identities (`airlock ssh-keys`). */
  insertSshKey(key: SshKeyRecord): Promise<void>;
  getSshKey(fingerprint: string): Promise<SshKeyRecord | undefined>;
  listSshKeys(subject?: string): Promise<SshKeyRecord[]>;
  deleteSshKey(fingerprint: string): Promise<boolean>;
  /** Target host keys trusted on first use. */
  getSshHostKey(target: string): Promise<SshHostKeyRecord | undefined>;
  /** Records `key` unless a key for its target is already known; returns the key on record either way. */
  pinSshHostKey(key: SshHostKeyRecord): Promise<SshHostKeyRecord>;
  listSshHostKeys(): Promise<SshHostKeyRecord[]>;
  deleteSshHostKey(target: string): Promise<boolean>;

  /** Quick liveness check; throws when the store cannot take writes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A stored event with the fields of its session joined, for store-wide exports (SIEM). */
export interface SessionEvent
  extends StoredEvent,
    Pick<SessionRecord, 'protocol' | 'connection' | 'subject' | 'groups' | 'kind' | 'authMethod' | 'credentialId' | 'clientAddress' | 'application'> {}

/** An SSH public key registered to an identity: presenting it proves `subject`. */
export interface SshKeyRecord {
  /** `SHA256:<base64, unpadded>` of the key blob, as `ssh-keygen -l` prints it. */
  readonly fingerprint: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly kind: 'user' | 'service';
  /** OpenSSH one-line form without comment: `ssh-ed25519 AAAA…`. */
  readonly publicKey: string;
  readonly createdAt: number;
  readonly comment: string | null;
}

/** A target's SSH host key, trusted on first use and enforced afterwards. */
export interface SshHostKeyRecord {
  /** `host:port` of the target. */
  readonly target: string;
  /** `ssh-ed25519 AAAA…`. */
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly firstSeenAt: number;
  /** The connection that first saw it. */
  readonly connection: string;
}
