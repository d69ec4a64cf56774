//! The files of a log export and their offline check (`sunmesh log export`,
//! `sunmesh verify-log`).
//!
//! An export is three files: `leaves.jsonl` (every leaf's exact bytes, one per line: a
//! canonical leaf never contains a raw newline), `checkpoint.txt` (the latest signed
//! checkpoint, covering exactly those leaves) and `log-key.pub` (the verifier key,
//! `<name>+<key id>+<base64(0x01 ‖ key)>`).

use std::fs;
use std::path::{Path, PathBuf};

use settlement::merkle::{verify_log_export, LogSummary, SignedCheckpoint};

use super::keys::{parse_public_key, verifier, verifier_key_text};
use crate::error::{PlatformError, Result};
use crate::store::Store;

pub const LEAVES_FILE: &str = "leaves.jsonl";
pub const CHECKPOINT_FILE: &str = "checkpoint.txt";
pub const PUBLIC_KEY_FILE: &str = "log-key.pub";

/// Where an export was written and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub leaves: PathBuf,
    pub checkpoint: PathBuf,
    pub public_key: PathBuf,
    pub size: u64,
}

/// Writes the latest checkpoint, the leaves it covers and the public key into `dir`.
pub fn export_log(
    store: &Store,
    origin: &str,
    public_key: &[u8; 32],
    dir: &Path,
) -> Result<ExportSummary> {
    let checkpoint = store
        .latest_checkpoint()?
        .ok_or_else(|| PlatformError::InvalidArgument {
            what: "log",
            input: store.describe(),
            reason: "no checkpoint was signed yet: settle a slot first".into(),
        })?;
    fs::create_dir_all(dir)?;
    let mut text = Vec::new();
    let mut from = 0;
    while from < checkpoint.size {
        let leaves = store.log_leaves(from, checkpoint.size)?;
        let Some((last, _)) = leaves.last() else {
            break;
        };
        from = last + 1;
        for (_, leaf) in leaves {
            text.extend_from_slice(&leaf);
            text.push(b'\n');
        }
    }
    let summary = ExportSummary {
        leaves: dir.join(LEAVES_FILE),
        checkpoint: dir.join(CHECKPOINT_FILE),
        public_key: dir.join(PUBLIC_KEY_FILE),
        size: checkpoint.size,
    };
    fs::write(&summary.leaves, text)?;
    fs::write(&summary.checkpoint, checkpoint.text)?;
    fs::write(
        &summary.public_key,
        format!("{}\n", verifier_key_text(origin, public_key)),
    )?;
    Ok(summary)
}

/// Splits a leaves file into leaves (one per line; the last line may lack its newline).
pub fn split_leaves(bytes: &[u8]) -> Vec<&[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if body.is_empty() {
        return Vec::new();
    }
    body.split(|b| *b == b'\n').collect()
}

/// Checks an export offline: `key` is a key file path, or the key itself (64 hex digits or a
/// verifier key line). A bare hex key takes its name from the checkpoint's signature line.
pub fn verify_files(
    leaves: &Path,
    checkpoint: &Path,
    key: &str,
    earlier: Option<&Path>,
) -> Result<LogSummary> {
    let read = |p: &Path| {
        fs::read(p).map_err(|e| PlatformError::InvalidArgument {
            what: "file",
            input: p.display().to_string(),
            reason: e.to_string(),
        })
    };
    let leaves_bytes = read(leaves)?;
    let checkpoint_text =
        String::from_utf8(read(checkpoint)?).map_err(|_| PlatformError::InvalidArgument {
            what: "checkpoint",
            input: checkpoint.display().to_string(),
            reason: "not UTF-8 text".into(),
        })?;
    let key_path = Path::new(key);
    let key_text = if key_path.is_file() {
        String::from_utf8_lossy(&read(key_path)?).into_owned()
    } else {
        key.to_owned()
    };
    let (name, public_key) =
        parse_public_key(&key_text).map_err(|reason| PlatformError::InvalidArgument {
            what: "public key",
            input: key.to_owned(),
            reason,
        })?;
    let fallback = SignedCheckpoint::parse(&checkpoint_text)
        .map(|c| c.key_name)
        .unwrap_or_default();
    let verifier = verifier(name, public_key, &fallback);
    let earlier_text = earlier
        .map(|p| read(p).map(|b| String::from_utf8_lossy(&b).into_owned()))
        .transpose()?;
    verify_log_export(
        &split_leaves(&leaves_bytes),
        &checkpoint_text,
        &verifier,
        earlier_text.as_deref(),
    )
    .map_err(PlatformError::core("the log export does not verify"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_split_on_newlines_with_or_without_a_final_one() {
        assert_eq!(split_leaves(b"a\nb\n"), vec![&b"a"[..], &b"b"[..]]);
        assert_eq!(split_leaves(b"a\nb"), vec![&b"a"[..], &b"b"[..]]);
        assert!(split_leaves(b"").is_empty());
        assert_eq!(split_leaves(b"\n\n"), vec![&b""[..], &b""[..]]);
    }
}
