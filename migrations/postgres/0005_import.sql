-- Bulk import progress (`kentei-vault import`), PostgreSQL.
--
-- One row per import run: how many lines of its input it has committed, and the
-- SHA-256 of those lines (each with its '\n'). A later run over a file whose first
-- `bytes` bytes hash to `prefix_digest` skips those lines: re-running a file after a
-- crash, or importing a file that extends one already imported, never imports a line
-- twice. The row is written in the same transaction as each batch of records.
-- No personal value is stored here: only counts and a digest over whole lines.
CREATE TABLE import_progress (
    run_id        UUID        NOT NULL PRIMARY KEY,
    prefix_digest BYTEA       NOT NULL CHECK (octet_length(prefix_digest) = 32),
    lines         BIGINT      NOT NULL CHECK (lines >= 0),
    bytes         BIGINT      NOT NULL CHECK (bytes >= 0),
    started_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

-- The key re-wrap job (key rotation) walks the keys of one KEK id in subject order
-- (`list_keys_for_rewrap`: kek_id = ?, kek_version < ?, subject_id > ?, ORDER BY
-- subject_id, compartment). With only `subject_keys_by_kek` (kek_id, kek_version,
-- subject_id) every page had to read and sort every key still to do; this index gives
-- the order directly, so a page reads only its own rows.
CREATE INDEX subject_keys_rewrap ON subject_keys (kek_id, subject_id, compartment, kek_version);
