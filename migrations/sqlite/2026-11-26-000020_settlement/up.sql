-- Settlement: the persisted ledger, settlement runs, mints, the transparency log, report rows,
-- emission factors, reward epochs, and the two input tables other parts of the platform fill.
-- Keep in step with migrations/postgres and platform/src/store/schema.rs.
--
-- Amounts (money in micro-units, carbon in grams, reward base units) are INTEGER on both
-- backends: the store refuses an amount or balance above 9.2 × 10^18 base units with an error
-- rather than storing it (the core computes in 128 bits; real amounts are far smaller).
-- Transfer ids are 128-bit and stored as 32 lowercase hex digits (fixed width, so text order
-- is numeric order).

-- Input: trades of a slot, filled by the trading side at gate closure (one row per trade).
CREATE TABLE settlement_trades (
    trade_id            INTEGER NOT NULL PRIMARY KEY CHECK (trade_id >= 0),
    zone                TEXT   NOT NULL CHECK (length(zone) BETWEEN 1 AND 64),
    slot_start_ms       INTEGER NOT NULL,
    seller_account      INTEGER NOT NULL CHECK (seller_account >= 0),
    buyer_account       INTEGER NOT NULL CHECK (buyer_account >= 0),
    qty_wh              INTEGER NOT NULL CHECK (qty_wh > 0),
    price_micro_per_kwh INTEGER NOT NULL,
    CHECK (seller_account <> buyer_account)
) STRICT;
CREATE INDEX settlement_trades_slot ON settlement_trades (zone, slot_start_ms);

-- Input: verified energy per participant and slot, filled by ingest (sum of the account's
-- meters' verified export and metered import), with the readings behind it.
CREATE TABLE slot_energy (
    account_id        INTEGER NOT NULL CHECK (account_id >= 0),
    zone              TEXT   NOT NULL,
    slot_start_ms     INTEGER NOT NULL,
    export_wh         INTEGER NOT NULL CHECK (export_wh >= 0),
    import_wh         INTEGER NOT NULL CHECK (import_wh >= 0),
    first_seq         INTEGER,
    last_seq          INTEGER,
    readings_verified INTEGER NOT NULL DEFAULT 0 CHECK (readings_verified >= 0),
    readings_flagged  INTEGER NOT NULL DEFAULT 0 CHECK (readings_flagged >= 0),
    readings_rejected INTEGER NOT NULL DEFAULT 0 CHECK (readings_rejected >= 0),
    readings_missing  INTEGER NOT NULL DEFAULT 0 CHECK (readings_missing >= 0),
    PRIMARY KEY (zone, slot_start_ms, account_id),
    CHECK ((first_seq IS NULL) = (last_seq IS NULL))
) STRICT;

-- Immutable ledger transfers, in the order they were applied (seq). An account is
-- (kind, id): kind participant with the account id, or a house account with id 0.
CREATE TABLE ledger_transfers (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT    NOT NULL UNIQUE CHECK (length(id) = 32),
    ledger        INTEGER NOT NULL CHECK (ledger IN (1, 3, 4)),
    debit_kind    TEXT    NOT NULL,
    debit_id      INTEGER  NOT NULL,
    credit_kind   TEXT    NOT NULL,
    credit_id     INTEGER  NOT NULL,
    amount        INTEGER  NOT NULL CHECK (amount >= 0),
    moved         INTEGER  NOT NULL CHECK (moved >= 0 AND moved <= amount),
    kind          TEXT    NOT NULL CHECK (kind IN ('posted', 'balancing_debit', 'pending', 'post_pending', 'void_pending')),
    pending_id    TEXT,
    code          INTEGER NOT NULL,
    zone          TEXT    NOT NULL,
    slot_start_ms INTEGER  NOT NULL,
    trade_id      INTEGER,
    reading_first INTEGER,
    reading_last  INTEGER,
    run_version   INTEGER NOT NULL CHECK (run_version >= 0),
    created_at_ms INTEGER  NOT NULL,
    CHECK ((pending_id IS NULL) = (kind NOT IN ('post_pending', 'void_pending'))),
    CHECK (debit_kind IN ('participant', 'issuance', 'escrow', 'rounding', 'imbalance')),
    CHECK (credit_kind IN ('participant', 'issuance', 'escrow', 'rounding', 'imbalance'))
) STRICT;
CREATE INDEX ledger_transfers_pending ON ledger_transfers (pending_id);

-- Running totals per account, rewritten with every batch that touches the account; always
-- equal to replaying ledger_transfers in seq order.
CREATE TABLE ledger_balances (
    owner_kind      TEXT    NOT NULL,
    owner_id        INTEGER  NOT NULL,
    ledger          INTEGER NOT NULL CHECK (ledger IN (1, 3, 4)),
    debits_pending  INTEGER  NOT NULL CHECK (debits_pending >= 0),
    debits_posted   INTEGER  NOT NULL CHECK (debits_posted >= 0),
    credits_pending INTEGER  NOT NULL CHECK (credits_pending >= 0),
    credits_posted  INTEGER  NOT NULL CHECK (credits_posted >= 0),
    PRIMARY KEY (owner_kind, owner_id, ledger)
) STRICT;

-- One row per settlement run of a (zone, slot). inputs_json holds the meter values and prices
-- the run used, so later reconciliations can rebuild it exactly.
CREATE TABLE settlement_runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    zone             TEXT    NOT NULL,
    slot_start_ms    INTEGER  NOT NULL,
    slot_len_ms      INTEGER  NOT NULL CHECK (slot_len_ms > 0),
    run_version      INTEGER NOT NULL CHECK (run_version >= 1),
    methodology      TEXT    NOT NULL,
    inputs_sha256    TEXT    NOT NULL CHECK (length(inputs_sha256) = 64),
    inputs_json      TEXT    NOT NULL,
    transfer_count   INTEGER  NOT NULL,
    first_leaf_index INTEGER  NOT NULL,
    leaf_count       INTEGER  NOT NULL,
    created_at_ms    INTEGER  NOT NULL,
    UNIQUE (zone, slot_start_ms, run_version)
) STRICT;

-- Carbon and reward mints (one per mint transfer), with the emission factor used.
CREATE TABLE mints (
    transfer_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(transfer_id) = 32),
    kind          TEXT    NOT NULL CHECK (kind IN ('carbon', 'reward')),
    account_id    INTEGER  NOT NULL,
    zone          TEXT    NOT NULL,
    slot_start_ms INTEGER  NOT NULL,
    run_version   INTEGER NOT NULL,
    amount        INTEGER  NOT NULL,
    total         INTEGER  NOT NULL CHECK (total >= 0),
    exported_wh   INTEGER,
    ef_zone       TEXT,
    ef_kind       TEXT,
    ef_source     TEXT,
    ef_version    TEXT,
    ef_g_per_mwh  INTEGER,
    epoch         INTEGER,
    leaf_index    INTEGER  NOT NULL,
    CHECK ((kind = 'carbon') = (ef_g_per_mwh IS NOT NULL))
) STRICT;
CREATE INDEX mints_kind_slot ON mints (kind, slot_start_ms);

-- The transparency log: leaves in order, and every signed checkpoint.
CREATE TABLE log_leaves (
    leaf_index    INTEGER NOT NULL PRIMARY KEY CHECK (leaf_index >= 0),
    leaf          BLOB   NOT NULL,
    leaf_hash     BLOB   NOT NULL CHECK (length(leaf_hash) = 32),
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE log_checkpoints (
    tree_size     INTEGER NOT NULL PRIMARY KEY CHECK (tree_size >= 0),
    root_hash     BLOB   NOT NULL CHECK (length(root_hash) = 32),
    checkpoint    TEXT   NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;

-- One report row per settlement run (see settlement::report::ReportRow).
CREATE TABLE report_rows (
    id                            INTEGER PRIMARY KEY AUTOINCREMENT,
    zone                          TEXT    NOT NULL,
    slot_start_ms                 INTEGER  NOT NULL,
    slot_len_ms                   INTEGER  NOT NULL,
    run_version                   INTEGER NOT NULL,
    methodology_version           TEXT    NOT NULL,
    trades                        INTEGER  NOT NULL,
    contracted_wh                 INTEGER  NOT NULL,
    metered_export_wh             INTEGER  NOT NULL,
    metered_import_wh             INTEGER  NOT NULL,
    delivered_wh                  INTEGER  NOT NULL,
    imbalance_wh                  INTEGER  NOT NULL,
    imbalance_price_micro_per_kwh INTEGER  NOT NULL,
    imbalance_amount_micro        INTEGER  NOT NULL,
    traded_amount_micro           INTEGER  NOT NULL,
    carbon_g                      INTEGER  NOT NULL,
    ef_kind                       TEXT    NOT NULL,
    ef_source                     TEXT    NOT NULL,
    ef_version                    TEXT    NOT NULL,
    ef_g_per_mwh                  INTEGER  NOT NULL,
    readings_verified             INTEGER  NOT NULL,
    readings_flagged              INTEGER  NOT NULL,
    readings_rejected             INTEGER  NOT NULL,
    readings_missing              INTEGER  NOT NULL,
    transfer_ids                  TEXT    NOT NULL,
    leaf_hashes                   TEXT    NOT NULL,
    first_leaf_index              INTEGER  NOT NULL,
    created_at_ms                 INTEGER  NOT NULL,
    UNIQUE (zone, slot_start_ms, run_version)
) STRICT;
CREATE INDEX report_rows_slot ON report_rows (slot_start_ms);

-- The emission factor table (settlement::carbon::FactorTable), replaced as a whole by
-- `sunmesh factors import`; mints keep a copy of the factor they used.
CREATE TABLE emission_factors (
    zone          TEXT   NOT NULL,
    kind          TEXT   NOT NULL CHECK (kind IN ('annual_average', 'combined_margin', 'marginal')),
    valid_from_ms INTEGER NOT NULL,
    valid_to_ms   INTEGER NOT NULL,
    source        TEXT   NOT NULL,
    version       TEXT   NOT NULL,
    g_per_mwh     INTEGER NOT NULL CHECK (g_per_mwh >= 0),
    imported_at_ms INTEGER NOT NULL,
    PRIMARY KEY (zone, kind, valid_from_ms),
    CHECK (valid_to_ms > valid_from_ms)
) STRICT;

-- Reward epochs that were distributed.
CREATE TABLE reward_epochs (
    epoch         INTEGER NOT NULL PRIMARY KEY CHECK (epoch >= 0),
    epoch_start_ms INTEGER NOT NULL,
    epoch_len_ms  INTEGER NOT NULL CHECK (epoch_len_ms > 0),
    pool          INTEGER NOT NULL,
    minted        INTEGER NOT NULL,
    participants  INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;
