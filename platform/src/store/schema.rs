//! The tables as diesel sees them, written by hand to match BOTH `migrations/sqlite` and
//! `migrations/postgres` (diesel's printer would emit `Integer` for SQLite's 64-bit INTEGER).
//! `tests/storage.rs` (`schema_matches_migrations`) compares this file with the migrated
//! database of each backend, and every storage test runs real queries on both.

diesel::table! {
    accounts (id) {
        id -> BigInt,
        name -> Text,
        role -> Text,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    devices (id) {
        id -> Text,
        public_key -> Text,
        owner_id -> BigInt,
        nameplate_w -> BigInt,
        latitude_micro -> Integer,
        longitude_micro -> Integer,
        zone -> Text,
        status -> Text,
        registered_at_ms -> BigInt,
        revoked_at_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        account_id -> BigInt,
        key_hash -> Text,
        label -> Text,
        created_at_ms -> BigInt,
        revoked_at_ms -> Nullable<BigInt>,
    }
}

diesel::table! {
    trading_journal (seq) {
        seq -> BigInt,
        at_ms -> BigInt,
        entry -> Text,
    }
}

diesel::table! {
    trading_snapshots (seq) {
        seq -> BigInt,
        taken_at_ms -> BigInt,
        state_hash -> Text,
        snapshot -> Text,
    }
}

diesel::table! {
    trading_orders (order_id) {
        order_id -> BigInt,
        account_id -> BigInt,
        client_order_id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        side -> Text,
        order_type -> Text,
        price_micro_per_kwh -> BigInt,
        qty_wh -> BigInt,
        remaining_wh -> BigInt,
        filled_wh -> BigInt,
        status -> Text,
        created_at_ms -> BigInt,
        updated_at_ms -> BigInt,
        response -> Text,
    }
}

diesel::table! {
    trading_trades (trade_id) {
        trade_id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        at_ms -> BigInt,
        price_micro_per_kwh -> BigInt,
        qty_wh -> BigInt,
        value_micro -> BigInt,
        buyer_account -> BigInt,
        seller_account -> BigInt,
        buyer_order -> BigInt,
        seller_order -> BigInt,
        taker_side -> Text,
    }
}

diesel::table! {
    trading_balances (account_id) {
        account_id -> BigInt,
        available_micro -> BigInt,
        updated_at_ms -> BigInt,
    }
}

diesel::joinable!(devices -> accounts (owner_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, devices, api_keys);
