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

diesel::joinable!(devices -> accounts (owner_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::allow_tables_to_appear_in_same_query!(accounts, devices, api_keys);
