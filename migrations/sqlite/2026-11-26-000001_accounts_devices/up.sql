-- Keep in step with migrations/postgres and platform/src/store/schema.rs: one schema.rs serves
-- both backends, so every column has the same diesel type on both (the storage tests check).
-- STRICT tables so SQLite refuses values of the wrong type instead of storing them.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('prosumer', 'consumer', 'operator', 'admin')),
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
    id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 32),
    public_key       TEXT    NOT NULL UNIQUE CHECK (length(public_key) = 64),
    owner_id         INTEGER NOT NULL REFERENCES accounts (id),
    nameplate_w      INTEGER NOT NULL CHECK (nameplate_w > 0),
    latitude_micro   INTEGER NOT NULL CHECK (latitude_micro BETWEEN -90000000 AND 90000000),
    longitude_micro  INTEGER NOT NULL CHECK (longitude_micro BETWEEN -180000000 AND 180000000),
    zone             TEXT    NOT NULL CHECK (length(zone) BETWEEN 1 AND 64),
    status           TEXT    NOT NULL CHECK (status IN ('active', 'revoked')),
    registered_at_ms INTEGER NOT NULL,
    revoked_at_ms    INTEGER,
    CHECK ((status = 'revoked') = (revoked_at_ms IS NOT NULL))
) STRICT;

CREATE INDEX devices_owner_id ON devices (owner_id);
CREATE INDEX devices_zone ON devices (zone);
