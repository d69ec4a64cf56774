-- Trading: the engine's journal and snapshots (the durable truth), and the tables derived from
-- it in the same transactions (orders, trades, balances) that the API queries.
-- Keep in step with migrations/postgres and platform/src/store/schema.rs.

-- One row per accepted command, in execution order. `entry` is the JSON of
-- `trading::journal::JournalEntry`: the command with its time, the pre-trade limits it was judged
-- against, and the events it caused. Replaying the entries reproduces the engine.
CREATE TABLE trading_journal (
    seq   INTEGER NOT NULL PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    entry TEXT    NOT NULL
) STRICT;

-- Engine snapshots: the state after journal entry `seq`.
CREATE TABLE trading_snapshots (
    seq         INTEGER NOT NULL PRIMARY KEY,
    taken_at_ms INTEGER NOT NULL,
    state_hash  TEXT    NOT NULL CHECK (length(state_hash) = 32),
    snapshot    TEXT    NOT NULL
) STRICT;

-- Every accepted order and its current state. (account_id, client_order_id) is how a retried
-- POST finds the original; `response` is the original answer, returned again to a retry.
CREATE TABLE trading_orders (
    order_id        INTEGER NOT NULL PRIMARY KEY,
    account_id      INTEGER NOT NULL,
    client_order_id INTEGER NOT NULL CHECK (client_order_id >= 0),
    zone            TEXT    NOT NULL,
    slot_start_ms   INTEGER NOT NULL,
    side            TEXT    NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type      TEXT    NOT NULL CHECK (order_type IN ('limit', 'post_only', 'ioc', 'fok', 'market')),
    price_micro_per_kwh INTEGER NOT NULL,
    qty_wh          INTEGER NOT NULL CHECK (qty_wh > 0),
    remaining_wh    INTEGER NOT NULL CHECK (remaining_wh >= 0),
    filled_wh       INTEGER NOT NULL CHECK (filled_wh >= 0),
    status          TEXT    NOT NULL CHECK (status IN ('open', 'filled', 'cancelled', 'expired')),
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    response        TEXT    NOT NULL
) STRICT;

CREATE INDEX trading_orders_account ON trading_orders (account_id, order_id);
CREATE INDEX trading_orders_client_id ON trading_orders (account_id, client_order_id);

-- Every trade. Settlement reads them (see docs/api.md: trading_trades is the source for
-- settlement_trades).
CREATE TABLE trading_trades (
    trade_id            INTEGER NOT NULL PRIMARY KEY,
    zone                TEXT    NOT NULL,
    slot_start_ms       INTEGER NOT NULL,
    at_ms               INTEGER NOT NULL,
    price_micro_per_kwh INTEGER NOT NULL,
    qty_wh              INTEGER NOT NULL CHECK (qty_wh > 0),
    value_micro         INTEGER NOT NULL,
    buyer_account       INTEGER NOT NULL,
    seller_account      INTEGER NOT NULL,
    buyer_order         INTEGER NOT NULL,
    seller_order        INTEGER NOT NULL,
    taker_side          TEXT    NOT NULL CHECK (taker_side IN ('buy', 'sell'))
) STRICT;

CREATE INDEX trading_trades_slot ON trading_trades (zone, slot_start_ms, trade_id);
CREATE INDEX trading_trades_buyer ON trading_trades (buyer_account, trade_id);
CREATE INDEX trading_trades_seller ON trading_trades (seller_account, trade_id);

-- Money an account may tie up in buy orders (deposits + sales − purchases), until settlement's
-- ledger replaces it. Escrow is not subtracted here: the engine holds it.
CREATE TABLE trading_balances (
    account_id      INTEGER NOT NULL PRIMARY KEY,
    available_micro INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
) STRICT;
