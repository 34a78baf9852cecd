-- The record store (PostgreSQL): subjects, their wrapped data keys, records of opaque
-- ciphertext, correction history, blind indexes and the My Number compartment.
--
-- Only the columns DATA.md allows in plain are plain: ids, prefecture code, fiscal
-- year, retention-clock date, status. Everything else is in the `sealed` / `wrapped`
-- blobs, which the store never decrypts.
--
-- Encoding on PostgreSQL: UUIDs as uuid, dates as date, timestamps as timestamptz,
-- blobs as bytea.

-- 受検者 / マイスター: one person with their own data keys.
CREATE TABLE subjects (
    subject_id      UUID        NOT NULL PRIMARY KEY,
    kind            TEXT        NOT NULL CHECK (kind IN ('examinee', 'meister')),
    prefecture_code TEXT        NOT NULL,
    status          TEXT        NOT NULL,
    suspended       BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

-- A subject's data key (DEK), only ever stored wrapped by a KEK held outside the database.
-- Deleting these rows crypto-shreds every ciphertext of the subject.
CREATE TABLE subject_keys (
    subject_id  UUID   NOT NULL REFERENCES subjects (subject_id),
    compartment TEXT   NOT NULL CHECK (compartment IN ('general', 'my_number')),
    kek_id      TEXT   NOT NULL,
    kek_version BIGINT NOT NULL CHECK (kek_version >= 0),
    wrapped     BYTEA  NOT NULL,
    PRIMARY KEY (subject_id, compartment)
);

-- Rotation status and the re-wrap job walk keys by KEK version.
CREATE INDEX subject_keys_by_kek ON subject_keys (kek_id, kek_version, subject_id);

-- One record (examinee, application, result, qualification, meister, meister activity):
-- all its field ciphertexts in one `sealed` blob.
CREATE TABLE records (
    record_id       UUID        NOT NULL PRIMARY KEY,
    kind            TEXT        NOT NULL CHECK (kind IN ('examinee', 'application', 'result',
                                                         'qualification', 'meister', 'meister_activity')),
    subject_id      UUID        NOT NULL REFERENCES subjects (subject_id),
    -- The record this one belongs to (the application of a result, the meister of an
    -- activity). Not a foreign key: retention may remove a parent on its own clock.
    parent_id       UUID,
    prefecture_code TEXT        NOT NULL,
    fiscal_year     INTEGER,
    -- The date that starts this record's retention clock.
    clock_date      DATE,
    status          TEXT,
    version         BIGINT      NOT NULL CHECK (version >= 1),
    sealed          BYTEA       NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE INDEX records_by_subject ON records (subject_id, kind, record_id);
CREATE INDEX records_by_parent ON records (parent_id, kind, record_id) WHERE parent_id IS NOT NULL;
CREATE INDEX records_by_prefecture ON records (prefecture_code, kind, record_id);
CREATE INDEX records_by_clock ON records (kind, clock_date, record_id);

-- 訂正履歴: the previous sealed values of a corrected record, one row per replaced version.
CREATE TABLE record_history (
    record_id  UUID        NOT NULL REFERENCES records (record_id),
    version    BIGINT      NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL,
    actor_id   TEXT        NOT NULL,
    sealed     BYTEA       NOT NULL,
    PRIMARY KEY (record_id, version)
);

-- Blind indexes (HMAC digests of normalised values) for exact-match search. Digests
-- are random, so the search index is kept narrow (field, digest); the primary key is led
-- by the record id (deletes by record, time-ordered inserts).
CREATE TABLE blind_index (
    field           TEXT    NOT NULL,
    key_version     BIGINT  NOT NULL CHECK (key_version >= 0),
    digest          BYTEA   NOT NULL CHECK (length(digest) = 32),
    record_id       UUID    NOT NULL REFERENCES records (record_id),
    subject_id      UUID    NOT NULL,
    prefecture_code TEXT    NOT NULL,
    is_unique       BOOLEAN NOT NULL,
    PRIMARY KEY (record_id, field, key_version, digest)
);

CREATE INDEX blind_index_search ON blind_index (field, digest);
-- A unique field (application id, ...) may hold a value only once per index-key version.
CREATE UNIQUE INDEX blind_index_unique ON blind_index (field, key_version, digest) WHERE is_unique;

-- 個人番号 (My Number): its own table, sealed under the subject's my_number compartment key.
CREATE TABLE my_numbers (
    subject_id UUID        NOT NULL PRIMARY KEY REFERENCES subjects (subject_id),
    sealed     BYTEA       NOT NULL,
    clock_date DATE,
    created_at TIMESTAMPTZ NOT NULL
);
