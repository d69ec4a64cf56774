//! Checkpoints (signed tree heads) in the C2SP `tlog-checkpoint` signed-note form:
//!
//! ```text
//! <origin>\n<tree size, decimal>\n<base64 root hash>\n
//! \n
//! — <key name> <base64(key id (4 bytes) ‖ Ed25519 signature (64 bytes))>\n
//! ```
//!
//! The signature covers the three body lines including the final newline. The key id is the
//! first 4 bytes of `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)` (C2SP signed-note, Ed25519).
//! Signing takes the key as an argument; Ed25519 signing is deterministic, so no randomness.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::digest;
use ring::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use super::Hash;
use crate::SettlementError;

/// The em dash that starts a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// A tree head: which log, how many leaves, which root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The signed text: origin, size and base64 root, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        )
    }

    fn parse_body(body: &str) -> Result<Self, SettlementError> {
        let bad = |m: &str| SettlementError::CheckpointFormat(m.to_string());
        let lines: Vec<&str> = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("body must end with a newline"))?
            .split('\n')
            .collect();
        let [origin, size, root] = lines.as_slice() else {
            return Err(bad(
                "body must be exactly three lines: origin, size, base64 root (no extension lines)",
            ));
        };
        if origin.is_empty() {
            return Err(bad("origin line is empty"));
        }
        let canonical_size = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size.len() == 1 || !size.starts_with('0'));
        let size: u64 = if canonical_size {
            size.parse()
                .map_err(|_| bad("tree size does not fit in 64 bits"))?
        } else {
            return Err(bad(
                "tree size must be decimal digits without leading zeros",
            ));
        };
        let root_bytes = B64
            .decode(root)
            .map_err(|_| bad("root line is not standard base64"))?;
        let root: Hash = root_bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("root hash must be 32 bytes"))?;
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
        })
    }
}

/// A checkpoint with one Ed25519 signature line (other lines, e.g. witness cosignatures,
/// are kept verbatim in `other_signatures`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub checkpoint: Checkpoint,
    pub key_name: String,
    pub key_id: [u8; 4],
    pub signature: [u8; 64],
    pub other_signatures: Vec<String>,
}

impl SignedCheckpoint {
    /// The signed-note text: body, a blank line, then signature lines.
    pub fn to_text(&self) -> String {
        let mut blob = Vec::with_capacity(68);
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&self.signature);
        let mut text = format!(
            "{}\n{SIG_PREFIX}{} {}\n",
            self.checkpoint.body(),
            self.key_name,
            B64.encode(blob)
        );
        for line in &self.other_signatures {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a signed note; the first signature line is taken as the log's own.
    pub fn parse(text: &str) -> Result<Self, SettlementError> {
        let bad = |m: &str| SettlementError::CheckpointFormat(m.to_string());
        let (body, signatures) = text
            .split_once("\n\n")
            .ok_or_else(|| bad("missing the blank line between body and signatures"))?;
        let checkpoint = Checkpoint::parse_body(&format!("{body}\n"))?;
        let signatures = signatures
            .strip_suffix('\n')
            .ok_or_else(|| bad("signature block must end with a newline"))?;
        let mut lines = signatures.split('\n');
        let first = lines.next().unwrap_or_default();
        let rest = first
            .strip_prefix(SIG_PREFIX)
            .ok_or_else(|| bad("signature line must start with an em dash and a space"))?;
        let (name, blob) = rest
            .split_once(' ')
            .ok_or_else(|| bad("signature line must be `— <name> <base64>`"))?;
        let blob = B64
            .decode(blob)
            .map_err(|_| bad("signature is not standard base64"))?;
        if blob.len() != 68 {
            return Err(bad("Ed25519 signature blob must be 4 + 64 bytes"));
        }
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(&blob[..4]);
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&blob[4..]);
        let other_signatures: Vec<String> = lines.map(str::to_string).collect();
        if other_signatures.iter().any(|l| !l.starts_with(SIG_PREFIX)) {
            return Err(bad(
                "every line after the blank line must be a signature line",
            ));
        }
        Ok(SignedCheckpoint {
            checkpoint,
            key_name: name.to_string(),
            key_id,
            signature,
            other_signatures,
        })
    }
}

fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(name.as_bytes());
    ctx.update(b"\n\x01");
    ctx.update(public_key);
    let hash = ctx.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(&hash.as_ref()[..4]);
    id
}

/// The platform's log signing key.
pub struct LogSigner {
    name: String,
    key_pair: Ed25519KeyPair,
}

impl LogSigner {
    /// `name` is the key name on signature lines (by convention the log's origin).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, SettlementError> {
        if name.is_empty() || name.contains([' ', '\n', '+']) {
            return Err(SettlementError::BadSigningKey(
                "key name must be non-empty without spaces, newlines or '+'",
            ));
        }
        let key_pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .map_err(|_| SettlementError::BadSigningKey("Ed25519 seed rejected"))?;
        Ok(Self {
            name: name.to_string(),
            key_pair,
        })
    }

    pub fn public_key(&self) -> [u8; 32] {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(self.key_pair.public_key().as_ref());
        pk
    }

    pub fn verifier(&self) -> LogVerifier {
        LogVerifier::new(&self.name, self.public_key())
    }

    pub fn sign(&self, checkpoint: &Checkpoint) -> SignedCheckpoint {
        let sig = self.key_pair.sign(checkpoint.body().as_bytes());
        let mut signature = [0u8; 64];
        signature.copy_from_slice(sig.as_ref());
        SignedCheckpoint {
            checkpoint: checkpoint.clone(),
            key_name: self.name.clone(),
            key_id: key_id(&self.name, &self.public_key()),
            signature,
            other_signatures: Vec::new(),
        }
    }
}

/// A public log key, as a verifier holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    pub name: String,
    pub public_key: [u8; 32],
}

impl LogVerifier {
    pub fn new(name: &str, public_key: [u8; 32]) -> Self {
        Self {
            name: name.to_string(),
            public_key,
        }
    }

    pub fn verify(&self, signed: &SignedCheckpoint) -> Result<(), SettlementError> {
        if signed.key_name != self.name || signed.key_id != key_id(&self.name, &self.public_key) {
            return Err(SettlementError::BadSignature);
        }
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(signed.checkpoint.body().as_bytes(), &signed.signature)
            .map_err(|_| SettlementError::BadSignature)
    }

    /// Parses and verifies a signed checkpoint text in one step.
    pub fn verify_text(&self, text: &str) -> Result<Checkpoint, SettlementError> {
        let signed = SignedCheckpoint::parse(text)?;
        self.verify(&signed)?;
        Ok(signed.checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> LogSigner {
        LogSigner::from_seed("sunmesh.example/log", &[7u8; 32]).expect("signer")
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "sunmesh.example/log".into(),
            size: 8,
            root: [0xab; 32],
        }
    }

    #[test]
    fn signed_text_round_trips_and_verifies() {
        let signed = signer().sign(&checkpoint());
        let text = signed.to_text();
        assert!(text.starts_with("sunmesh.example/log\n8\nq6ur"));
        assert!(text.contains("\n\n\u{2014} sunmesh.example/log "));
        assert_eq!(SignedCheckpoint::parse(&text).expect("parse"), signed);
        assert_eq!(signer().verifier().verify_text(&text), Ok(checkpoint()));
        // Deterministic: the same key and checkpoint always give the same text.
        assert_eq!(signer().sign(&checkpoint()).to_text(), text);
    }

    #[test]
    fn altered_checkpoints_and_other_keys_fail() {
        let text = signer().sign(&checkpoint()).to_text();
        let verifier = signer().verifier();
        let bigger = text.replacen("\n8\n", "\n9\n", 1);
        assert_eq!(
            verifier.verify_text(&bigger),
            Err(SettlementError::BadSignature)
        );
        let other = LogSigner::from_seed("sunmesh.example/log", &[8u8; 32]).expect("signer");
        assert_eq!(
            other.verifier().verify_text(&text),
            Err(SettlementError::BadSignature)
        );
        let mut signed = SignedCheckpoint::parse(&text).expect("parse");
        signed.signature[10] ^= 1;
        assert_eq!(verifier.verify(&signed), Err(SettlementError::BadSignature));
    }

    #[test]
    fn malformed_texts_are_rejected_not_panicked_on() {
        for text in [
            "",
            "o\n1\n",
            "o\n01\nq6s=\n\n\u{2014} o AAAA\n",
            "o\n1\nnot base64!\n\n\u{2014} o AAAA\n",
            "o\n1\nq6s=\n\n- o AAAA\n",
            "o\n1\n\n\n",
        ] {
            assert!(SignedCheckpoint::parse(text).is_err(), "{text:?}");
        }
    }
}
