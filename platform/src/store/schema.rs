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
    readings (device_id, sequence) {
        device_id -> Text,
        sequence -> BigInt,
        timestamp_ms -> BigInt,
        interval_ms -> BigInt,
        export_wh -> BigInt,
        import_wh -> BigInt,
        power_w -> BigInt,
        status -> Text,
        prev_hash -> Text,
        chain_hash -> Text,
        wire -> Binary,
        verdict -> Text,
        reasons -> Text,
        received_at_ms -> BigInt,
        decided_at_ms -> Nullable<BigInt>,
        decided_by -> Nullable<Text>,
    }
}

diesel::table! {
    reading_energy (device_id, sequence) {
        device_id -> Text,
        sequence -> BigInt,
        start_ms -> BigInt,
        end_ms -> BigInt,
        export_wh -> BigInt,
        import_wh -> BigInt,
    }
}

diesel::table! {
    rejected_readings (id) {
        id -> BigInt,
        device_id -> Text,
        sequence -> BigInt,
        chain_hash -> Text,
        wire -> Binary,
        reason -> Text,
        received_at_ms -> BigInt,
    }
}

diesel::table! {
    device_heads (device_id) {
        device_id -> Text,
        sequence -> Nullable<BigInt>,
        chain_hash -> Nullable<Text>,
        export_wh -> Nullable<BigInt>,
        import_wh -> Nullable<BigInt>,
        timestamp_ms -> Nullable<BigInt>,
        review -> Text,
        review_reason -> Nullable<Text>,
        updated_at_ms -> BigInt,
    }
}

diesel::table! {
    reading_gaps (device_id, from_seq) {
        device_id -> Text,
        from_seq -> BigInt,
        to_seq -> BigInt,
        detected_at_ms -> BigInt,
    }
}

diesel::table! {
    verified_energy (device_id, slot_start_ms) {
        device_id -> Text,
        slot_start_ms -> BigInt,
        export_wh -> BigInt,
        import_wh -> BigInt,
    }
}

diesel::joinable!(devices -> accounts (owner_id));
diesel::joinable!(api_keys -> accounts (account_id));
diesel::joinable!(readings -> devices (device_id));
diesel::joinable!(device_heads -> devices (device_id));
diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    devices,
    api_keys,
    readings,
    rejected_readings,
    device_heads,
    reading_gaps,
    verified_energy,
    reading_energy
);
