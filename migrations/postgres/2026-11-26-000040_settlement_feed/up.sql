-- Settlement gathers each delivery slot's inputs from the live tables: verified energy by
-- slot (across devices) and readings by time for the data-quality counts.
CREATE INDEX verified_energy_slot ON verified_energy (slot_start_ms);
CREATE INDEX readings_device_time ON readings (device_id, timestamp_ms);
