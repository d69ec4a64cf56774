-- Readings ingest (issue 4). Keep in step with migrations/sqlite and platform/src/store/schema.rs.
-- Counters and energies are INTEGER Wh; times are INTEGER UTC ms.

-- Every reading that joined its device's chain (it passed identity, sequence and timestamp):
-- accepted, flagged (kept for an operator) or rejected for physics (authentic, and the next
-- reading's baseline). UNIQUE(device_id, sequence) is what makes at-least-once delivery
-- exactly-once here.
CREATE TABLE readings (
    device_id        TEXT    NOT NULL REFERENCES devices (id),
    sequence         INTEGER NOT NULL  CHECK (sequence > 0),
    timestamp_ms     INTEGER NOT NULL ,
    interval_ms      INTEGER NOT NULL  CHECK (interval_ms >= 0),
    export_wh        INTEGER NOT NULL  CHECK (export_wh >= 0),
    import_wh        INTEGER NOT NULL  CHECK (import_wh >= 0),
    power_w          INTEGER NOT NULL ,
    status           TEXT    NOT NULL,
    prev_hash        TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    chain_hash       TEXT    NOT NULL CHECK (length(chain_hash) = 64),
    wire             BLOB    NOT NULL,
    verdict          TEXT    NOT NULL CHECK (verdict IN ('accepted', 'flagged', 'rejected')),
    reasons          TEXT    NOT NULL,
    received_at_ms   INTEGER NOT NULL ,
    decided_at_ms    INTEGER,
    decided_by       TEXT,
    PRIMARY KEY (device_id, sequence)
) STRICT;

CREATE INDEX readings_flagged ON readings (verdict, device_id, sequence);

-- The counter deltas a chain reading measured since the previous head, over
-- (start_ms, end_ms]; absent for a device's first reading and after a counter rollback. Kept
-- so that an operator's release can book a flagged reading's energy.
CREATE TABLE reading_energy (
    device_id  TEXT    NOT NULL,
    sequence   INTEGER NOT NULL,
    start_ms   INTEGER NOT NULL,
    end_ms     INTEGER NOT NULL,
    export_wh  INTEGER NOT NULL CHECK (export_wh >= 0),
    import_wh  INTEGER NOT NULL CHECK (import_wh >= 0),
    PRIMARY KEY (device_id, sequence),
    FOREIGN KEY (device_id, sequence) REFERENCES readings (device_id, sequence),
    CHECK (start_ms < end_ms)
) STRICT;

-- Authentic readings (valid signature of a registered key) that could not join the chain:
-- replays, conflicts, reordering, broken chains, bad timestamps, revoked keys. Readings whose
-- signature does not verify are answered but not stored: anyone could fill this table.
CREATE TABLE rejected_readings (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id      TEXT    NOT NULL REFERENCES devices (id),
    sequence       INTEGER NOT NULL ,
    chain_hash     TEXT    NOT NULL,
    wire           BLOB    NOT NULL,
    reason         TEXT    NOT NULL,
    received_at_ms INTEGER NOT NULL 
) STRICT;

CREATE INDEX rejected_readings_device ON rejected_readings (device_id, sequence);

-- Each device's chain head (the last reading that joined the chain; all NULL before the first)
-- and its review state: a device is put under review after a sequence conflict or a broken
-- chain, and everything it sends is then flagged until an operator clears it.
CREATE TABLE device_heads (
    device_id     TEXT    NOT NULL PRIMARY KEY REFERENCES devices (id),
    sequence      INTEGER,
    chain_hash    TEXT    CHECK (length(chain_hash) = 64),
    export_wh     INTEGER,
    import_wh     INTEGER,
    timestamp_ms  INTEGER,
    review        TEXT    NOT NULL CHECK (review IN ('none', 'under_review')),
    review_reason TEXT,
    updated_at_ms INTEGER NOT NULL ,
    CHECK ((sequence IS NULL) = (chain_hash IS NULL)
       AND (sequence IS NULL) = (export_wh IS NULL)
       AND (sequence IS NULL) = (import_wh IS NULL)
       AND (sequence IS NULL) = (timestamp_ms IS NULL))
) STRICT;

-- Sequence numbers a device skipped (from_seq..=to_seq): lost readings, not rejections.
CREATE TABLE reading_gaps (
    device_id      TEXT    NOT NULL REFERENCES devices (id),
    from_seq       INTEGER NOT NULL ,
    to_seq         INTEGER NOT NULL ,
    detected_at_ms INTEGER NOT NULL ,
    PRIMARY KEY (device_id, from_seq),
    CHECK (from_seq <= to_seq)
) STRICT;

-- Verified energy per device and delivery slot (accepted and released readings only), in
-- whole Wh: what settlement and minting use.
CREATE TABLE verified_energy (
    device_id     TEXT    NOT NULL REFERENCES devices (id),
    slot_start_ms INTEGER NOT NULL ,
    export_wh     INTEGER NOT NULL  CHECK (export_wh >= 0),
    import_wh     INTEGER NOT NULL  CHECK (import_wh >= 0),
    PRIMARY KEY (device_id, slot_start_ms)
) STRICT;
