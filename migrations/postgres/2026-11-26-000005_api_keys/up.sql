-- API keys: random 256-bit secrets shown once; only their SHA-256 is stored.
CREATE TABLE api_keys (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    key_hash      TEXT   NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    label         TEXT   NOT NULL CHECK (length(label) <= 64),
    created_at_ms BIGINT NOT NULL,
    revoked_at_ms BIGINT
);

CREATE INDEX api_keys_account_id ON api_keys (account_id);
