//! Order books per (zone, delivery slot) and the continuous double auction that matches them.
//!
//! Owns: the market calendar, order types, matching, gate closure, pre-trade checks (through a
//! trait the shell implements), snapshots and state hashes. Must never do I/O, read a clock or
//! use randomness: time is an argument and the same commands always give the same events.
