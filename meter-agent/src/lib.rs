//! The meter agent: device sources (SunSpec over Modbus TCP/RTU, register maps, MQTT JSON), the
//! signer, the durable spool and the uplink, plus a SunSpec simulator for demos and tests.
//!
//! Must never acknowledge a reading that is not on disk, and must stay lean enough for a
//! Raspberry Pi: no web framework, no ORM.
