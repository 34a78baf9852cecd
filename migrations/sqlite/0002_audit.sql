-- Audit log (監査ログ) of kentei-vault, SQLite.
-- Hash-chained events, one head row per chain, signed checkpoints and prune anchors.
-- Events hold ids and names only, never a personal value (see docs/audit.md).
-- STRICT tables: a stored value cannot silently change type.

CREATE TABLE audit_chain_heads (
    chain_id         TEXT    NOT NULL PRIMARY KEY,
    last_seq         INTEGER NOT NULL,
    last_hash        BLOB    NOT NULL,
    last_at_us       INTEGER NOT NULL,
    checkpoint_seq   INTEGER NOT NULL,
    checkpoint_at_us INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_events (
    chain_id   TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    at_us      INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    role       TEXT,
    purpose    TEXT,
    action     TEXT    NOT NULL,
    tenant     TEXT,
    subjects   TEXT    NOT NULL,
    fields     TEXT    NOT NULL,
    outcome    TEXT    NOT NULL,
    request_id TEXT,
    source     TEXT,
    token_id   TEXT,
    prev_hash  BLOB    NOT NULL,
    hash       BLOB    NOT NULL,
    PRIMARY KEY (chain_id, seq)
) STRICT;

CREATE INDEX audit_events_time ON audit_events (at_us, chain_id, seq);
CREATE INDEX audit_events_actor ON audit_events (actor, at_us);
CREATE INDEX audit_events_action ON audit_events (action, at_us);
CREATE INDEX audit_events_token ON audit_events (token_id, at_us) WHERE token_id IS NOT NULL;

-- Events are append-only: an update is refused (deletion is the retention job's,
-- up to a signed checkpoint). Someone who drops this trigger is still caught by verify.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- Subject index for "events about subject X" (derived from audit_events.subjects;
-- verify checks that the two agree).
CREATE TABLE audit_event_subjects (
    subject_id TEXT    NOT NULL,
    chain_id   TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (subject_id, chain_id, seq),
    FOREIGN KEY (chain_id, seq) REFERENCES audit_events (chain_id, seq)
        ON DELETE CASCADE ON UPDATE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX audit_event_subjects_event ON audit_event_subjects (chain_id, seq);

CREATE TABLE audit_checkpoints (
    chain_id  TEXT    NOT NULL,
    kind      TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    at_us     INTEGER NOT NULL,
    hash      BLOB    NOT NULL,
    key_id    TEXT    NOT NULL,
    signature BLOB    NOT NULL,
    PRIMARY KEY (chain_id, kind, seq)
) STRICT;
