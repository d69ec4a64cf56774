//! API key secrets and their stored hashes.
//!
//! A key is 256 random bits, shown to its owner once as `smk_` + base64url. The platform keeps
//! only SHA-256 of the key text, so a database leak does not leak usable keys.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::PlatformError;

const PREFIX: &str = "smk_";

/// 256 bits from the operating system's CSPRNG: API keys, stream tickets.
pub fn random_256_bits() -> Result<[u8; 32], PlatformError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PlatformError::Config("the system random generator failed".into()))?;
    Ok(bytes)
}

/// The secret key text, as given to the account holder. Never logged or stored.
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, PlatformError> {
        Ok(Self(format!(
            "{PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random_256_bits()?)
        )))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> KeyHash {
        KeyHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeySecret(…)")
    }
}

/// SHA-256 of a key's text: what the store keeps and looks keys up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash([u8; 32]);

impl KeyHash {
    /// Hashes whatever a client presented; a malformed key simply matches nothing.
    pub fn of(presented: &str) -> Self {
        let hash = digest::digest(&digest::SHA256, presented.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(hash.as_ref());
        Self(out)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_distinct_and_hash_stably() {
        let a = ApiKeySecret::generate().unwrap();
        let b = ApiKeySecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with(PREFIX));
        assert_eq!(a.expose().len(), PREFIX.len() + 43);
        assert_eq!(a.hash(), KeyHash::of(a.expose()));
        assert_ne!(a.hash(), b.hash());
        assert!(!format!("{a:?}").contains(&a.expose()[4..]));
    }
}
