ALTER TABLE device_heads DROP COLUMN night_export_wh;
