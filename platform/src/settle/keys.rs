//! The platform's log signing key: an Ed25519 PKCS#8 file, created on first start with
//! ring's `SystemRandom` and readable by its owner only (0600).
//!
//! The public half is published as a signed-note verifier key,
//! `<name>+<key id hex>+<base64(0x01 ‖ public key)>`, which `sunmesh verify-log` accepts along
//! with bare hex.

use std::fs;
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use settlement::merkle::{LogSigner, LogVerifier};

use crate::error::{PlatformError, Result};

/// The default key file, relative to the working directory.
pub const DEFAULT_LOG_KEY_FILE: &str = "sunmesh-log-key.pk8";

/// The default log origin (and key name): names this platform's log in every checkpoint.
pub const DEFAULT_LOG_ORIGIN: &str = "sunmesh.local/log";

/// Reads the key at `path`, or creates it (mode 0600) when the file does not exist.
pub fn load_or_create_log_key(path: &Path, origin: &str) -> Result<LogSigner> {
    let err = |reason: String| PlatformError::LogKey {
        path: path.display().to_string(),
        reason,
    };
    if !path.exists() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| err("the system random generator failed".into()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create its directory: {e}")))?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(path)
            .map_err(|e| err(format!("cannot create it: {e}")))?;
        file.write_all(pkcs8.as_ref())
            .and_then(|()| file.sync_all())
            .map_err(|e| err(format!("cannot write it: {e}")))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map_err(|e| err(format!("cannot read it: {e}")))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode {:o} lets others read the private key; run `chmod 600` on it",
                mode & 0o777
            )));
        }
    }
    let bytes = fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    signer_from_pkcs8(&bytes, origin).map_err(err)
}

/// A signer from an Ed25519 PKCS#8 v2 document (as ring writes them).
pub fn signer_from_pkcs8(pkcs8: &[u8], origin: &str) -> std::result::Result<LogSigner, String> {
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
        .map_err(|e| format!("not an Ed25519 PKCS#8 v2 key ({e})"))?;
    // The seed is the OCTET STRING inside the privateKey OCTET STRING: 04 22 04 20 <32 bytes>.
    let seed = pkcs8
        .windows(4)
        .position(|w| w == [0x04, 0x22, 0x04, 0x20])
        .and_then(|at| pkcs8.get(at + 4..at + 36))
        .and_then(|s| <[u8; 32]>::try_from(s).ok())
        .ok_or("the private key seed was not found in the PKCS#8 document")?;
    let signer = LogSigner::from_seed(origin, &seed).map_err(|e| e.to_string())?;
    if signer.public_key().as_slice() != pair.public_key().as_ref() {
        return Err("the seed does not match the document's public key".into());
    }
    Ok(signer)
}

/// The first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key) (signed-note key id).
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n\x01");
    ctx.update(public_key);
    let mut id = [0u8; 4];
    id.copy_from_slice(&ctx.finish().as_ref()[..4]);
    id
}

/// `<name>+<key id hex>+<base64(0x01 ‖ public key)>`.
pub fn verifier_key_text(name: &str, public_key: &[u8; 32]) -> String {
    let mut blob = vec![0x01];
    blob.extend_from_slice(public_key);
    format!(
        "{name}+{}+{}",
        hex::encode(key_id(name, public_key)),
        B64.encode(blob)
    )
}

/// Parses a public key given as 64 hex digits or as a verifier key line. A bare hex key has
/// no name; the caller supplies one (`None` here).
pub fn parse_public_key(text: &str) -> std::result::Result<(Option<String>, [u8; 32]), String> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text, &mut key).map_err(|e| e.to_string())?;
        return Ok((None, key));
    }
    // A key name never contains '+', but base64 may: split from the left.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(blob)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("expected 64 hex digits or a verifier key `name+keyid+base64`".into());
    };
    let blob = B64
        .decode(blob)
        .map_err(|_| "the verifier key's last part is not base64".to_string())?;
    let key: [u8; 32] = match blob.split_first() {
        Some((0x01, key)) => key
            .try_into()
            .map_err(|_| "the verifier key does not hold 32 key bytes".to_string())?,
        _ => return Err("the verifier key is not an Ed25519 (type 0x01) key".into()),
    };
    if hex::encode(key_id(name, &key)) != id.to_ascii_lowercase() {
        return Err("the verifier key's id does not match its name and key".into());
    }
    Ok((Some(name.to_owned()), key))
}

/// The verifier for a parsed key, named `name` or, for bare hex, `fallback_name`.
pub fn verifier(name: Option<String>, key: [u8; 32], fallback_name: &str) -> LogVerifier {
    LogVerifier::new(name.as_deref().unwrap_or(fallback_name), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_private_and_loads_back_to_the_same_signer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/log.pk8");
        let first = load_or_create_log_key(&path, "o/log").unwrap();
        let again = load_or_create_log_key(&path, "o/log").unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let refused = load_or_create_log_key(&path, "o/log").err().unwrap();
            assert!(refused.to_string().contains("chmod 600"), "{refused}");
        }
    }

    #[test]
    fn verifier_keys_round_trip_and_reject_a_wrong_id() {
        // Seeds until the base64 part holds a '+', which must not confuse the parser.
        let signer = (0u8..=255)
            .map(|seed| LogSigner::from_seed("o/log", &[seed; 32]).unwrap())
            .find(|s| {
                verifier_key_text("o/log", &s.public_key())
                    .matches('+')
                    .count()
                    > 2
            })
            .unwrap();
        let text = verifier_key_text("o/log", &signer.public_key());
        assert_eq!(
            parse_public_key(&text).unwrap(),
            (Some("o/log".to_owned()), signer.public_key())
        );
        let bare = hex::encode(signer.public_key());
        assert_eq!(
            parse_public_key(&bare).unwrap(),
            (None, signer.public_key())
        );
        let renamed = text.replacen("o/log", "x/log", 1);
        assert!(parse_public_key(&renamed).is_err());
        assert!(parse_public_key("zz").is_err());
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(signer_from_pkcs8(b"not a key", "o").is_err());
    }
}
