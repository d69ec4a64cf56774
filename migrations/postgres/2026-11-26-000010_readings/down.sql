DROP TABLE verified_energy;
DROP TABLE reading_gaps;
DROP TABLE device_heads;
DROP TABLE rejected_readings;
DROP TABLE reading_energy;
DROP TABLE readings;
