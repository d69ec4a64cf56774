//! The transparency log's signed-checkpoint parser (`SignedCheckpoint::parse`, also behind
//! `LogVerifier::verify_text`) on arbitrary UTF-8: it must never panic, and whatever it accepts
//! must print back to the same text, so a checkpoint has one spelling and cannot be altered
//! without changing its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use settlement::merkle::{LogVerifier, SignedCheckpoint};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The signature path must not panic either; an arbitrary key almost never verifies.
    let _ = LogVerifier::new("sunmesh.example/log", [7u8; 32]).verify_text(text);
    if let Ok(signed) = SignedCheckpoint::parse(text) {
        let printed = signed.to_text();
        assert_eq!(
            printed, text,
            "parse accepted a non-canonical checkpoint text"
        );
        let again = SignedCheckpoint::parse(&printed)
            .unwrap_or_else(|e| panic!("to_text produced text that parse rejects: {e}"));
        assert_eq!(again, signed, "to_text → parse changed the checkpoint");
    }
});
