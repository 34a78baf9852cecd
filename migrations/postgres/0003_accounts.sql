-- Accounts, their tokens and the single-use bootstrap token (PostgreSQL).
-- Tokens are stored only as SHA-256 hashes; a token in clear never enters the database.

CREATE TABLE accounts (
    id               UUID PRIMARY KEY,
    -- The person or calling system the account belongs to (no shared accounts).
    name             TEXT NOT NULL UNIQUE,
    -- Role names from the policy.
    roles            TEXT[] NOT NULL,
    -- TRUE when the account covers every prefecture ("*"); otherwise see account_prefectures.
    all_prefectures  BOOLEAN NOT NULL DEFAULT FALSE,
    -- CIDR networks; empty means any source address.
    allowed_networks TEXT[] NOT NULL DEFAULT '{}',
    expires_at       TIMESTAMPTZ,
    status           TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
    created_by       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    disabled_by      TEXT,
    disabled_at      TIMESTAMPTZ,
    last_used_at     TIMESTAMPTZ
);

CREATE TABLE account_prefectures (
    account_id UUID NOT NULL REFERENCES accounts (id),
    prefecture TEXT NOT NULL,
    PRIMARY KEY (account_id, prefecture)
);
CREATE INDEX account_prefectures_by_prefecture ON account_prefectures (prefecture);

CREATE TABLE account_tokens (
    id           UUID PRIMARY KEY,
    account_id   UUID NOT NULL REFERENCES accounts (id),
    token_hash   BYTEA NOT NULL UNIQUE,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ
);
CREATE INDEX account_tokens_by_account ON account_tokens (account_id);

CREATE TABLE bootstrap_tokens (
    id          UUID PRIMARY KEY,
    token_hash  BYTEA NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    consumed_at TIMESTAMPTZ,
    -- The admin account created with it.
    consumed_by UUID
);
