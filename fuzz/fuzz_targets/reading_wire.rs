//! `SignedReading::from_wire` on arbitrary bytes: it must never panic, and whatever it accepts
//! must encode back to exactly the same bytes (the wire form is what gets signed and stored, so
//! two byte strings must never decode to one reading).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reading::SignedReading;

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = SignedReading::from_wire(data) {
        let wire = signed.to_wire();
        assert_eq!(
            &wire[..],
            data,
            "from_wire accepted bytes that to_wire does not reproduce"
        );
    }
});
