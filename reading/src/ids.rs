//! Identities and hashes: Ed25519 public keys, the device ids derived from them, chain hashes.

use std::fmt;
use std::str::FromStr;

use ring::digest;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ReadingError;

/// Decodes exactly `N` bytes of hex, naming `what` in the error.
pub(crate) fn decode_hex<const N: usize>(
    what: &'static str,
    text: &str,
) -> Result<[u8; N], ReadingError> {
    if text.len() != 2 * N {
        return Err(ReadingError::HexLength {
            what,
            expected: 2 * N,
            actual: text.len(),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| ReadingError::BadHex {
        what,
        detail: e.to_string(),
    })?;
    Ok(out)
}

/// An Ed25519 public key (32 bytes). Any 32 bytes are accepted here; a key that is not a
/// valid curve point simply never verifies a signature.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    pub const fn from_array(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ReadingError> {
        let array: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ReadingError::PublicKeyLength(bytes.len()))?;
        Ok(Self(array))
    }

    pub fn from_hex(text: &str) -> Result<Self, ReadingError> {
        decode_hex("public key", text.trim()).map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The device id is the first 16 bytes of SHA-256(public key): a device is its key, so an
    /// agent knows its id without asking the platform, and a verifier can check that a reading
    /// names the key that signed it.
    pub fn device_id(&self) -> DeviceId {
        let hash = digest::digest(&digest::SHA256, &self.0);
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash.as_ref()[..16]);
        DeviceId(id)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = ReadingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

/// A device's identity: 16 bytes, written as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeviceId([u8; 16]);

impl DeviceId {
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    pub fn from_hex(text: &str) -> Result<Self, ReadingError> {
        decode_hex("device id", text).map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceId({})", self.to_hex())
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl FromStr for DeviceId {
    type Err = ReadingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}

impl Serialize for DeviceId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for DeviceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// SHA-256 over the signed message of a reading; the next reading carries it as `prev_hash`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// The `prev_hash` of a device's first reading (sequence 1).
    pub const GENESIS: ChainHash = ChainHash([0u8; 32]);

    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_hex(text: &str) -> Result<Self, ReadingError> {
        decode_hex("chain hash", text).map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_hex_round_trips_and_rejects_bad_input() {
        let key = PublicKey::from_bytes(&[7u8; 32]).unwrap();
        assert_eq!(PublicKey::from_hex(&key.to_hex()).unwrap(), key);
        assert!(matches!(
            PublicKey::from_hex("abcd"),
            Err(ReadingError::HexLength { expected: 64, .. })
        ));
        assert!(matches!(
            PublicKey::from_hex(&"zz".repeat(32)),
            Err(ReadingError::BadHex { .. })
        ));
        assert_eq!(
            PublicKey::from_bytes(&[0u8; 31]),
            Err(ReadingError::PublicKeyLength(31))
        );
    }

    #[test]
    fn device_id_is_prefix_of_key_hash() {
        let key = PublicKey::from_bytes(&[1u8; 32]).unwrap();
        let hash = digest::digest(&digest::SHA256, &[1u8; 32]);
        assert_eq!(key.device_id().as_bytes(), &hash.as_ref()[..16]);
        assert_eq!(key.device_id().to_hex().len(), 32);
        let other = PublicKey::from_bytes(&[2u8; 32]).unwrap();
        assert_ne!(key.device_id(), other.device_id());
    }
}
