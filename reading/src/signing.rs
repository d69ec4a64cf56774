//! Ed25519 signing and verification of readings, and the binary wire form.

use std::fmt;

use ring::signature::{self, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::{ChainHash, DeviceId, PublicKey, Reading, ReadingError, CANONICAL_LEN};

/// Domain separation: a reading signature can never be mistaken for a signature over
/// anything else the same key might sign.
pub const DOMAIN_PREFIX: &[u8] = b"sunmesh.reading.v1\0";
pub const SIGNATURE_LEN: usize = 64;
/// Binary wire form: canonical bytes followed by the signature.
pub const WIRE_LEN: usize = CANONICAL_LEN + SIGNATURE_LEN;

/// A device's private key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// From a 32-byte Ed25519 seed (RFC 8032 private key), as used in the test vectors.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, ReadingError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|pair| Self { pair })
            .map_err(|_| ReadingError::BadPrivateKey("not a valid Ed25519 seed"))
    }

    /// From a PKCS#8 document (v1 or v2), as written by `meter-agent keygen`.
    pub fn from_pkcs8(document: &[u8]) -> Result<Self, ReadingError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(document)
            .map(|pair| Self { pair })
            .map_err(|_| ReadingError::BadPrivateKey("not an Ed25519 PKCS#8 document"))
    }

    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey::from_array(bytes)
    }

    pub fn device_id(&self) -> DeviceId {
        self.public_key().device_id()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        write!(f, "SigningKey(device {})", self.device_id())
    }
}

/// A reading with its Ed25519 signature over [`Reading::message`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedReading {
    pub reading: Reading,
    pub signature: [u8; SIGNATURE_LEN],
}

impl SignedReading {
    pub fn sign(reading: Reading, key: &SigningKey) -> Self {
        let sig = key.pair.sign(&reading.message());
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(sig.as_ref());
        Self { reading, signature }
    }

    /// Checks that the reading names this key's device and that the signature is valid.
    pub fn verify(&self, key: &PublicKey) -> Result<(), ReadingError> {
        let key_device = key.device_id();
        if self.reading.device_id != key_device {
            return Err(ReadingError::DeviceMismatch {
                reading: self.reading.device_id.to_hex(),
                key: key_device.to_hex(),
            });
        }
        self.verify_signature_only(key)
    }

    /// The signature check alone, for callers that already matched device and key.
    pub fn verify_signature_only(&self, key: &PublicKey) -> Result<(), ReadingError> {
        UnparsedPublicKey::new(&signature::ED25519, key.as_bytes())
            .verify(&self.reading.message(), &self.signature)
            .map_err(|_| ReadingError::BadSignature)
    }

    pub fn chain_hash(&self) -> ChainHash {
        self.reading.chain_hash()
    }

    pub fn to_wire(&self) -> [u8; WIRE_LEN] {
        let mut out = [0u8; WIRE_LEN];
        out[..CANONICAL_LEN].copy_from_slice(&self.reading.canonical_bytes());
        out[CANONICAL_LEN..].copy_from_slice(&self.signature);
        out
    }

    /// Parses the wire form; rejects any other length (truncation, trailing bytes).
    pub fn from_wire(bytes: &[u8]) -> Result<Self, ReadingError> {
        if bytes.len() != WIRE_LEN {
            return Err(ReadingError::WrongLength {
                expected: WIRE_LEN,
                actual: bytes.len(),
            });
        }
        let (canonical, sig) = bytes.split_at(CANONICAL_LEN);
        let reading = Reading::from_canonical(canonical)?;
        let mut signature = [0u8; SIGNATURE_LEN];
        signature.copy_from_slice(sig);
        Ok(Self { reading, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DeviceStatus, FORMAT_VERSION};

    fn key() -> SigningKey {
        SigningKey::from_seed(&[9u8; 32]).unwrap()
    }

    fn reading(key: &SigningKey) -> Reading {
        Reading {
            device_id: key.device_id(),
            sequence: 1,
            timestamp_ms: 1_767_225_600_000,
            interval_ms: 60_000,
            export_wh: 10,
            import_wh: 0,
            power_w: 600,
            status: DeviceStatus::Ok,
            prev_hash: ChainHash::GENESIS,
        }
    }

    #[test]
    fn sign_then_verify() {
        let key = key();
        let signed = SignedReading::sign(reading(&key), &key);
        assert_eq!(signed.verify(&key.public_key()), Ok(()));
    }

    #[test]
    fn other_key_is_rejected_as_device_mismatch() {
        let key = key();
        let other = SigningKey::from_seed(&[8u8; 32]).unwrap();
        let signed = SignedReading::sign(reading(&key), &key);
        assert!(matches!(
            signed.verify(&other.public_key()),
            Err(ReadingError::DeviceMismatch { .. })
        ));
        assert_eq!(
            signed.verify_signature_only(&other.public_key()),
            Err(ReadingError::BadSignature)
        );
    }

    #[test]
    fn wire_round_trip_and_length_checks() {
        let key = key();
        let signed = SignedReading::sign(reading(&key), &key);
        let wire = signed.to_wire();
        assert_eq!(wire[0], FORMAT_VERSION);
        assert_eq!(SignedReading::from_wire(&wire), Ok(signed));
        assert!(SignedReading::from_wire(&wire[..WIRE_LEN - 1]).is_err());
        let mut longer = wire.to_vec();
        longer.push(0);
        assert!(SignedReading::from_wire(&longer).is_err());
        assert!(SignedReading::from_wire(&[]).is_err());
    }

    #[test]
    fn pkcs8_and_bad_keys() {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = SigningKey::from_pkcs8(doc.as_ref()).unwrap();
        let signed = SignedReading::sign(reading(&key), &key);
        assert_eq!(signed.verify(&key.public_key()), Ok(()));
        assert!(SigningKey::from_pkcs8(b"not a key").is_err());
    }
}
