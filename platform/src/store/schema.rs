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
    settlement_trades (trade_id) {
        trade_id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        seller_account -> BigInt,
        buyer_account -> BigInt,
        qty_wh -> BigInt,
        price_micro_per_kwh -> BigInt,
    }
}

diesel::table! {
    slot_energy (zone, slot_start_ms, account_id) {
        account_id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        export_wh -> BigInt,
        import_wh -> BigInt,
        first_seq -> Nullable<BigInt>,
        last_seq -> Nullable<BigInt>,
        readings_verified -> BigInt,
        readings_flagged -> BigInt,
        readings_rejected -> BigInt,
        readings_missing -> BigInt,
    }
}

diesel::table! {
    ledger_transfers (seq) {
        seq -> BigInt,
        id -> Text,
        ledger -> Integer,
        debit_kind -> Text,
        debit_id -> BigInt,
        credit_kind -> Text,
        credit_id -> BigInt,
        amount -> BigInt,
        moved -> BigInt,
        kind -> Text,
        pending_id -> Nullable<Text>,
        code -> Integer,
        zone -> Text,
        slot_start_ms -> BigInt,
        trade_id -> Nullable<BigInt>,
        reading_first -> Nullable<BigInt>,
        reading_last -> Nullable<BigInt>,
        run_version -> Integer,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    ledger_balances (owner_kind, owner_id, ledger) {
        owner_kind -> Text,
        owner_id -> BigInt,
        ledger -> Integer,
        debits_pending -> BigInt,
        debits_posted -> BigInt,
        credits_pending -> BigInt,
        credits_posted -> BigInt,
    }
}

diesel::table! {
    settlement_runs (id) {
        id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        slot_len_ms -> BigInt,
        run_version -> Integer,
        methodology -> Text,
        inputs_sha256 -> Text,
        inputs_json -> Text,
        transfer_count -> BigInt,
        first_leaf_index -> BigInt,
        leaf_count -> BigInt,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    mints (transfer_id) {
        transfer_id -> Text,
        kind -> Text,
        account_id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        run_version -> Integer,
        amount -> BigInt,
        total -> BigInt,
        exported_wh -> Nullable<BigInt>,
        ef_zone -> Nullable<Text>,
        ef_kind -> Nullable<Text>,
        ef_source -> Nullable<Text>,
        ef_version -> Nullable<Text>,
        ef_g_per_mwh -> Nullable<BigInt>,
        epoch -> Nullable<BigInt>,
        leaf_index -> BigInt,
    }
}

diesel::table! {
    log_leaves (leaf_index) {
        leaf_index -> BigInt,
        leaf -> Binary,
        leaf_hash -> Binary,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    log_checkpoints (tree_size) {
        tree_size -> BigInt,
        root_hash -> Binary,
        checkpoint -> Text,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    report_rows (id) {
        id -> BigInt,
        zone -> Text,
        slot_start_ms -> BigInt,
        slot_len_ms -> BigInt,
        run_version -> Integer,
        methodology_version -> Text,
        trades -> BigInt,
        contracted_wh -> BigInt,
        metered_export_wh -> BigInt,
        metered_import_wh -> BigInt,
        delivered_wh -> BigInt,
        imbalance_wh -> BigInt,
        imbalance_price_micro_per_kwh -> BigInt,
        imbalance_amount_micro -> BigInt,
        traded_amount_micro -> BigInt,
        carbon_g -> BigInt,
        ef_kind -> Text,
        ef_source -> Text,
        ef_version -> Text,
        ef_g_per_mwh -> BigInt,
        readings_verified -> BigInt,
        readings_flagged -> BigInt,
        readings_rejected -> BigInt,
        readings_missing -> BigInt,
        transfer_ids -> Text,
        leaf_hashes -> Text,
        first_leaf_index -> BigInt,
        created_at_ms -> BigInt,
    }
}

diesel::table! {
    emission_factors (zone, kind, valid_from_ms) {
        zone -> Text,
        kind -> Text,
        valid_from_ms -> BigInt,
        valid_to_ms -> BigInt,
        source -> Text,
        version -> Text,
        g_per_mwh -> BigInt,
        imported_at_ms -> BigInt,
    }
}

diesel::table! {
    reward_epochs (epoch) {
        epoch -> BigInt,
        epoch_start_ms -> BigInt,
        epoch_len_ms -> BigInt,
        pool -> BigInt,
        minted -> BigInt,
        participants -> BigInt,
        created_at_ms -> BigInt,
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
        night_export_wh -> BigInt,
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
