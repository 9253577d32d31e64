/** SQLite schema; `user_version` tracks migrations. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    groups TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    description TEXT
  );
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    protocol TEXT NOT NULL,
    connection TEXT NOT NULL,
    subject TEXT NOT NULL,
    groups TEXT NOT NULL,
    kind TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    credential_id TEXT,
    client_address TEXT NOT NULL,
    application TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    end_reason TEXT,
    bytes_in INTEGER NOT NULL DEFAULT 0,
    bytes_out INTEGER NOT NULL DEFAULT 0,
    event_count INTEGER NOT NULL DEFAULT 0,
    last_hash TEXT,
    legal_hold INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX sessions_started ON sessions(started_at);
  CREATE INDEX sessions_subject ON sessions(subject, started_at);
  CREATE INDEX sessions_connection ON sessions(connection, started_at);
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    hash TEXT NOT NULL,
    search_text TEXT,
    outcome TEXT,
    UNIQUE (session_id, seq)
  );
  CREATE VIRTUAL TABLE events_fts USING fts5(search_text, content='events', content_rowid='id');
  CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    session_id TEXT,
    time REAL NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  `,
  `
  CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    session_id TEXT,
    connection TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_kind TEXT NOT NULL,
    requester_groups TEXT NOT NULL,
    text TEXT NOT NULL,
    text_hash TEXT,
    rule TEXT NOT NULL,
    approvers TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    decided_at REAL,
    reviewer TEXT,
    reason TEXT,
    valid_until REAL
  );
  CREATE INDEX reviews_status ON reviews(status, created_at);
  CREATE INDEX reviews_window ON reviews(kind, connection, requester, text_hash, valid_until);
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    subject TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL
  );
  CREATE INDEX audit_target ON audit_log(target, time);
  `,
  `
  CREATE INDEX IF NOT EXISTS events_time ON events(time);
  `,
  `
  CREATE TABLE ssh_keys (
    fingerprint TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    groups TEXT NOT NULL,
    kind TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    comment TEXT
  );
  CREATE INDEX ssh_keys_subject ON ssh_keys(subject);
  CREATE TABLE ssh_host_keys (
    target TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    connection TEXT NOT NULL
  );
  `,
  `
  ALTER TABLE events ADD COLUMN data_z BLOB;
  `,
  // Session facts (subject, connection, protocol, groups) as tokens beside the statement text, so a
  // filtered search intersects posting lists instead of joining every match.
  `
  ALTER TABLE events ADD COLUMN search_meta TEXT;
  DROP TABLE events_fts;
  CREATE VIRTUAL TABLE events_fts USING fts5(search_text, search_meta, content='events', content_rowid='id');
  INSERT INTO events_fts (events_fts) VALUES ('rebuild');
  `,
  // The ledger's Merkle tree (recording/merkle.ts): hashes of its perfect subtrees, level 0 = leaves. Derived
  // from the ledger and filled in by recording/merkle-index.ts; verifiers recompute, never trust it.
  `
  CREATE TABLE merkle_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
  ) WITHOUT ROWID;
  `,
  // Time-bounded reads find their ids by binary search over the rowid (event-id-range.ts);
  // keeping this index current cost the recorder about a tenth of its write throughput.
  `
  DROP INDEX IF EXISTS events_time;
  `,
  // Ids of events whose time is lower than that of the event just before them by id (a clock set back between
  // runs, two processes' batches interleaved). They split the ids into stretches where time never decreases, in
  // which event-id-range.ts can binary-search; the event writer adds to it. Filled here for existing events.
  `
  CREATE TABLE event_time_steps (id INTEGER PRIMARY KEY);
  INSERT INTO event_time_steps SELECT id FROM (SELECT id, time, lag(time) OVER (ORDER BY id) AS prev FROM events) WHERE time < prev;
  `,
  // A session's seal by its id (recording/verify-session.ts, bundle.ts), so checking or exporting one session
  // does not read the whole ledger.
  `
  CREATE INDEX IF NOT EXISTS ledger_session ON ledger(session_id);
  `,
  // A session's events are found through a compact integer key (sessions.key, given out in order when the
  // session is inserted) instead of the 36-character id: keeping UNIQUE(session_id, seq) current was about a
  // quarter of the event writer's time. Ids are kept (FTS rowids, time steps). Events whose session row is gone
  // keep a NULL key and are found by their session_id.
  `
  ALTER TABLE sessions ADD COLUMN key INTEGER;
  UPDATE sessions SET key = rowid;
  CREATE UNIQUE INDEX sessions_key ON sessions(key);
  CREATE TABLE events_next (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    session_key INTEGER,
    seq INTEGER NOT NULL,
    time REAL NOT NULL,
    type TEXT NOT NULL,
    data TEXT NOT NULL,
    data_z BLOB,
    hash TEXT NOT NULL,
    search_text TEXT,
    search_meta TEXT,
    outcome TEXT,
    UNIQUE (session_key, seq)
  );
  INSERT INTO events_next (id, session_id, session_key, seq, time, type, data, data_z, hash, search_text, search_meta, outcome)
    SELECT id, session_id, (SELECT key FROM sessions s WHERE s.id = events.session_id), seq, time, type, data, data_z, hash,
      search_text, search_meta, outcome
    FROM events ORDER BY id;
  DROP TABLE events;
  ALTER TABLE events_next RENAME TO events;
  `,
  // Ended sessions' terminal output re-encoded in large brotli blocks by the compactor thread (compaction.mjs has
  // the format). AUTOINCREMENT: a block id is never given out again, so a decompressed block cached by a reader
  // cannot stand for another. The partial index holds only sessions not compacted yet.
  `
  CREATE TABLE event_blocks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    raw_bytes INTEGER NOT NULL,
    data BLOB NOT NULL
  );
  CREATE INDEX event_blocks_session ON event_blocks(session_id);
  ALTER TABLE events ADD COLUMN block INTEGER;
  ALTER TABLE events ADD COLUMN block_offset INTEGER;
  ALTER TABLE events ADD COLUMN block_length INTEGER;
  ALTER TABLE sessions ADD COLUMN compacted_at REAL;
  CREATE INDEX sessions_to_compact ON sessions(ended_at, id) WHERE compacted_at IS NULL;
  `,
  // Control plane (store/control-types.ts): a web session's token names the token it came from (parent_id) and may
  // be used only where its scope says; locks on subjects; requests to end live sessions, polled by every gateway;
  // one-time ids (SAML assertions) shared by every gateway on the store. Reviews by session, for retention.
  `
  ALTER TABLE tokens ADD COLUMN parent_id TEXT;
  ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'all';
  CREATE TABLE locks (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    reason TEXT,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE TABLE session_terminations (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    reason TEXT,
    requested_at INTEGER NOT NULL,
    done_at INTEGER
  );
  CREATE INDEX session_terminations_pending ON session_terminations(session_id) WHERE done_at IS NULL;
  CREATE TABLE used_once (key TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS reviews_session ON reviews(session_id);
  `,
  // Gateway instances and their leases (server/instance-lease.ts): a session names the instance that records it, and a
  // starting gateway seals as interrupted only sessions whose instance is provably gone.
  `
  CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    expires_at REAL NOT NULL
  );
  ALTER TABLE sessions ADD COLUMN instance_id TEXT;
  CREATE INDEX sessions_open ON sessions(instance_id) WHERE ended_at IS NULL;
  `,
];
