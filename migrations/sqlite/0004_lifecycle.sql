-- Lifecycle (SQLite): key-rotation checkpoints, key usage counters, retention plans and
-- their execution progress, legal holds, retention clocks the executor keeps, and meister
-- intent checks. No personal value and no key material is stored here: ids, dates of
-- retention clocks, counts, account ids, and plans/certificates that list ids only.
--
-- The SQL of vault-core/src/lifecycle is shared by both backends, so the columns are TEXT
-- (UUIDs, ISO dates, RFC 3339 UTC times) and INTEGER/BIGINT (counts, versions, seqs).

-- One re-wrap (KEK) or re-index (blind_index) job per new key version; `resume_after` is the
-- last subject (or record) id done in the current pass, so a restarted job resumes there.
CREATE TABLE key_rotations (
    key_id       TEXT    NOT NULL,
    to_version   INTEGER NOT NULL CHECK (to_version >= 1),
    kind         TEXT    NOT NULL CHECK (kind IN ('kek', 'blind_index')),
    state        TEXT    NOT NULL CHECK (state IN ('running', 'complete')),
    resume_after TEXT,
    pass         INTEGER NOT NULL DEFAULT 1,
    done         INTEGER NOT NULL DEFAULT 0,
    total        INTEGER NOT NULL DEFAULT 0,
    milestone    INTEGER NOT NULL DEFAULT 0,
    started_by   TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    completed_at TEXT,
    PRIMARY KEY (key_id, to_version)
) STRICT;

-- Usage counter per key version (nonce budget: wraps under a KEK, NIST SP 800-38D) and
-- the time the vault first saw the version (key age).
CREATE TABLE key_usage (
    key_id     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
    created_at TEXT    NOT NULL,
    PRIMARY KEY (key_id, version)
) STRICT;

-- Retention plans (dry runs), their approval, execution and erasure certificate.
CREATE TABLE retention_plans (
    plan_id          TEXT    NOT NULL PRIMARY KEY,
    created_by       TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    as_of            TEXT    NOT NULL,
    digest           TEXT    NOT NULL,
    plan_json        TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('planned', 'approved', 'executing', 'executed')),
    approval_json    TEXT,
    approver_roles   TEXT,
    execution_json   TEXT,
    executed_by      TEXT,
    audit_seq_first  INTEGER,
    certificate_json TEXT,
    certificate_seq  INTEGER,
    executed_at      TEXT
) STRICT;

-- Subjects whose erasure transaction of a plan has committed (resume after a crash).
CREATE TABLE retention_progress (
    plan_id    TEXT NOT NULL REFERENCES retention_plans (plan_id),
    subject_id TEXT NOT NULL,
    done_at    TEXT NOT NULL,
    PRIMARY KEY (plan_id, subject_id)
) STRICT;

-- Legal holds (保存の指示): while a hold is not released, its subjects are never planned
-- nor erased. `reason` is a case reference, not personal data.
CREATE TABLE legal_holds (
    hold_id     TEXT NOT NULL PRIMARY KEY,
    reason      TEXT NOT NULL,
    placed_by   TEXT NOT NULL,
    placed_at   TEXT NOT NULL,
    released_by TEXT,
    released_at TEXT
) STRICT;

CREATE TABLE legal_hold_subjects (
    hold_id    TEXT NOT NULL REFERENCES legal_holds (hold_id),
    subject_id TEXT NOT NULL,
    PRIMARY KEY (hold_id, subject_id)
) STRICT;
CREATE INDEX legal_hold_subjects_by_subject ON legal_hold_subjects (subject_id);

-- Retention clocks that outlive the records they come from: the fiscal-year end of a
-- subject's last application (the My Number clock once applications are gone) and the
-- day the executor erased an examinee's last application/result/qualification.
CREATE TABLE subject_clocks (
    subject_id              TEXT NOT NULL PRIMARY KEY,
    last_application_fy_end TEXT,
    no_records_since        TEXT
) STRICT;

-- Meister intent checks (意向確認, C21).
CREATE TABLE meister_intent_checks (
    meister_id  TEXT NOT NULL,
    started_on  TEXT NOT NULL,
    deadline    TEXT NOT NULL,
    answer      TEXT CHECK (answer IN ('continue', 'no_intent')),
    answered_on TEXT,
    outcome     TEXT CHECK (outcome IN ('active', 'deregistered')),
    closed_on   TEXT,
    PRIMARY KEY (meister_id, started_on)
) STRICT;
