DROP INDEX readings_device_time;
DROP INDEX verified_energy_slot;
