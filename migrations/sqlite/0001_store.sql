-- The record store (SQLite): subjects, their wrapped data keys, records of opaque
-- ciphertext, correction history, blind indexes and the My Number compartment.
--
-- Only the columns DATA.md allows in plain are plain: ids, prefecture code, fiscal
-- year, retention-clock date, status. Everything else is in the `sealed` / `wrapped`
-- blobs, which the store never decrypts.
--
-- Encoding on SQLite: UUIDs as lower-case hyphenated TEXT (sorts like PostgreSQL's
-- uuid), dates as ISO TEXT 'YYYY-MM-DD', timestamps as RFC 3339 TEXT (UTC, microseconds),
-- booleans as INTEGER 0/1. Tables are STRICT so a wrongly typed bind fails loudly.
-- Small-row tables are WITHOUT ROWID (their primary key is their only b-tree).
--
-- Ids are best generated time-ordered (UUIDv7, `store::new_id`): every index led by an
-- id then grows at its right edge instead of taking a random page write per insert.

-- 受検者 / マイスター: one person with their own data keys.
CREATE TABLE subjects (
    subject_id      TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('examinee', 'meister')),
    prefecture_code TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    suspended       INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1)),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- A subject's data key (DEK), only ever stored wrapped by a KEK held outside the database.
-- Deleting these rows crypto-shreds every ciphertext of the subject.
CREATE TABLE subject_keys (
    subject_id  TEXT    NOT NULL REFERENCES subjects (subject_id),
    compartment TEXT    NOT NULL CHECK (compartment IN ('general', 'my_number')),
    kek_id      TEXT    NOT NULL,
    kek_version INTEGER NOT NULL CHECK (kek_version >= 0),
    wrapped     BLOB    NOT NULL,
    PRIMARY KEY (subject_id, compartment)
) STRICT, WITHOUT ROWID;

-- Rotation status and the re-wrap job walk keys by KEK version.
CREATE INDEX subject_keys_by_kek ON subject_keys (kek_id, kek_version, subject_id);

-- One record (examinee, application, result, qualification, meister, meister activity):
-- all its field ciphertexts in one `sealed` blob.
CREATE TABLE records (
    record_id       TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('examinee', 'application', 'result',
                                                     'qualification', 'meister', 'meister_activity')),
    subject_id      TEXT    NOT NULL REFERENCES subjects (subject_id),
    -- The record this one belongs to (the application of a result, the meister of an
    -- activity). Not a foreign key: retention may remove a parent on its own clock.
    parent_id       TEXT,
    prefecture_code TEXT    NOT NULL,
    fiscal_year     INTEGER,
    -- The date that starts this record's retention clock.
    clock_date      TEXT,
    status          TEXT,
    version         INTEGER NOT NULL CHECK (version >= 1),
    sealed          BLOB    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
) STRICT;

CREATE INDEX records_by_subject ON records (subject_id, kind, record_id);
CREATE INDEX records_by_parent ON records (parent_id, kind, record_id) WHERE parent_id IS NOT NULL;
CREATE INDEX records_by_prefecture ON records (prefecture_code, kind, record_id);
CREATE INDEX records_by_clock ON records (kind, clock_date, record_id);

-- 訂正履歴: the previous sealed values of a corrected record, one row per replaced version.
CREATE TABLE record_history (
    record_id  TEXT    NOT NULL REFERENCES records (record_id),
    version    INTEGER NOT NULL,
    changed_at TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL,
    sealed     BLOB    NOT NULL,
    PRIMARY KEY (record_id, version)
) STRICT;

-- Blind indexes (HMAC digests of normalised values) for exact-match search.
--
-- Digests are random, so the search index takes one random b-tree insert per row; it
-- is kept narrow (field, digest → rowid) and the rows themselves are appended in a rowid
-- table, which makes bulk imports markedly cheaper than a wide WITHOUT ROWID key.
CREATE TABLE blind_index (
    field           TEXT    NOT NULL,
    key_version     INTEGER NOT NULL CHECK (key_version >= 0),
    digest          BLOB    NOT NULL CHECK (length(digest) = 32),
    record_id       TEXT    NOT NULL REFERENCES records (record_id),
    subject_id      TEXT    NOT NULL,
    prefecture_code TEXT    NOT NULL,
    is_unique       INTEGER NOT NULL CHECK (is_unique IN (0, 1))
) STRICT;

CREATE INDEX blind_index_search ON blind_index (field, digest);
-- One entry per record, field, key version and digest; also serves deletes by record.
CREATE UNIQUE INDEX blind_index_by_record ON blind_index (record_id, field, key_version, digest);
-- A unique field (application id, ...) may hold a value only once per index-key version.
CREATE UNIQUE INDEX blind_index_unique ON blind_index (field, key_version, digest) WHERE is_unique = 1;

-- 個人番号 (My Number): its own table, sealed under the subject's my_number compartment key.
CREATE TABLE my_numbers (
    subject_id TEXT NOT NULL PRIMARY KEY REFERENCES subjects (subject_id),
    sealed     BLOB NOT NULL,
    clock_date TEXT,
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
