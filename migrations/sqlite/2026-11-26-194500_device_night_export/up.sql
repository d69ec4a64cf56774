-- Rule 6's night tolerance is a budget per night, not per reading: the chain head carries the
-- export let through over the device's all-night intervals since its last interval with any
-- daylight (settlement::verify::ChainHead::night_export_wh). Existing heads start with an
-- unspent budget.
ALTER TABLE device_heads
    ADD COLUMN night_export_wh INTEGER NOT NULL DEFAULT 0 CHECK (night_export_wh >= 0);
