//! `SignedReading::from_json` on arbitrary UTF-8: it must never panic, and whatever it accepts
//! must survive `to_json` → `from_json` unchanged. JSON allows many spellings of one value
//! (whitespace, key order, escapes), so the check is on the decoded value, not the text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reading::SignedReading;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(signed) = SignedReading::from_json(text) {
        let json = signed.to_json();
        let again = SignedReading::from_json(&json).unwrap_or_else(|e| {
            panic!("to_json produced JSON that from_json rejects: {e}\n{json}")
        });
        assert_eq!(again, signed, "to_json → from_json changed the reading");
    }
});
