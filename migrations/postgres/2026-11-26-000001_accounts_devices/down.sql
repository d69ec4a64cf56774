DROP TABLE devices;
DROP TABLE accounts;
