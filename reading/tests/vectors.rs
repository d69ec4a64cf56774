//! The published test vectors (tests/vectors.json, also printed in docs/reading-format.md)
//! must match the code byte for byte, and any single-byte corruption must fail verification.

use reading::{
    ChainHash, PublicKey, Reading, SignedReading, SigningKey, CANONICAL_LEN, DOMAIN_PREFIX,
};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vector {
    name: String,
    seed_hex: String,
    public_key_hex: String,
    device_id_hex: String,
    canonical_hex: String,
    message_hex: String,
    signature_hex: String,
    wire_hex: String,
    chain_hash_hex: String,
    json: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("vectors.json");
    let vectors: Vec<Vector> = serde_json::from_str(text).expect("vectors.json parses");
    assert!(vectors.len() >= 5, "the format promises at least 5 vectors");
    vectors
}

fn bytes(hex_text: &str) -> Vec<u8> {
    hex::decode(hex_text).expect("vector hex is valid")
}

fn seed(v: &Vector) -> [u8; 32] {
    bytes(&v.seed_hex).try_into().expect("seed is 32 bytes")
}

#[test]
fn vectors_match_the_code() {
    for v in vectors() {
        let key = SigningKey::from_seed(&seed(&v)).unwrap();
        assert_eq!(key.public_key().to_hex(), v.public_key_hex, "{}", v.name);
        assert_eq!(key.device_id().to_hex(), v.device_id_hex, "{}", v.name);

        let canonical = bytes(&v.canonical_hex);
        assert_eq!(canonical.len(), CANONICAL_LEN);
        let reading = Reading::from_canonical(&canonical).unwrap();
        assert_eq!(reading.canonical_bytes().to_vec(), canonical, "{}", v.name);

        let message = bytes(&v.message_hex);
        assert_eq!(&message[..DOMAIN_PREFIX.len()], DOMAIN_PREFIX);
        assert_eq!(&message[DOMAIN_PREFIX.len()..], &canonical[..]);
        assert_eq!(reading.message().to_vec(), message);

        // Ed25519 is deterministic: signing again gives the published signature.
        let signed = SignedReading::sign(reading, &key);
        assert_eq!(hex::encode(signed.signature), v.signature_hex, "{}", v.name);
        assert_eq!(hex::encode(signed.to_wire()), v.wire_hex);
        assert_eq!(signed.chain_hash().to_hex(), v.chain_hash_hex);

        let from_json = SignedReading::from_json(&v.json).unwrap();
        assert_eq!(from_json, signed);
        assert_eq!(from_json.to_json(), v.json);
        let public = PublicKey::from_hex(&v.public_key_hex).unwrap();
        assert_eq!(from_json.verify(&public), Ok(()));
    }
}

#[test]
fn vectors_verify_with_raw_ring_over_the_message() {
    // What a third party does with only the document: Ed25519-verify message_hex.
    for v in vectors() {
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            bytes(&v.public_key_hex),
        );
        key.verify(&bytes(&v.message_hex), &bytes(&v.signature_hex))
            .unwrap_or_else(|_| panic!("vector {} does not verify", v.name));
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes(&v.message_hex));
        assert_eq!(hex::encode(digest.as_ref()), v.chain_hash_hex);
    }
}

#[test]
fn chained_vectors_link() {
    let vectors = vectors();
    let second = Reading::from_canonical(&bytes(&vectors[1].canonical_hex)).unwrap();
    assert_eq!(second.prev_hash.to_hex(), vectors[0].chain_hash_hex);
    let first = Reading::from_canonical(&bytes(&vectors[0].canonical_hex)).unwrap();
    assert_eq!(first.prev_hash, ChainHash::GENESIS);
}

#[test]
fn flipping_any_single_byte_fails_verification() {
    for v in vectors() {
        let public = PublicKey::from_hex(&v.public_key_hex).unwrap();
        let wire = bytes(&v.wire_hex);
        for index in 0..wire.len() {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut corrupt = wire.clone();
                corrupt[index] ^= flip;
                // Either the bytes no longer parse (version, status) or the signature fails.
                let accepted = SignedReading::from_wire(&corrupt)
                    .map(|signed| signed.verify(&public).is_ok())
                    .unwrap_or(false);
                assert!(
                    !accepted,
                    "{}: flipping byte {index} with {flip:#04x} still verifies",
                    v.name
                );
            }
        }
    }
}

#[test]
fn docs_print_the_same_vectors() {
    let doc = include_str!("../../docs/reading-format.md");
    for v in vectors() {
        for value in [
            &v.seed_hex,
            &v.public_key_hex,
            &v.canonical_hex,
            &v.signature_hex,
            &v.chain_hash_hex,
            &v.json,
        ] {
            assert!(
                doc.contains(value.as_str()),
                "docs/reading-format.md is missing {value} of vector '{}'",
                v.name
            );
        }
    }
}
