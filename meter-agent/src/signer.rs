//! Device keys and the reading chain: keygen (PKCS#8, mode 0600), loading the key, and turning
//! measurements into signed v1 readings whose sequence and previous hash continue the chain.

use std::io::Write;
use std::path::Path;

use reading::{ChainHash, DeviceStatus, Reading, SignedReading, SigningKey};

use crate::error::{AgentError, Result};

/// Generates a new Ed25519 key and writes it as PKCS#8 to `path` with mode 0600. Refuses to
/// overwrite an existing key: a device key is the device's identity.
pub fn keygen(path: &Path) -> Result<SigningKey> {
    let bad = |reason: String| AgentError::Key {
        path: path.to_path_buf(),
        reason,
    };
    let rng = ring::rand::SystemRandom::new();
    let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| bad("the system random generator failed".into()))?;
    let key = SigningKey::from_pkcs8(doc.as_ref())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| AgentError::io(dir, e))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            bad(
                "already exists; refusing to overwrite a device identity (move it away first)"
                    .into(),
            )
        } else {
            AgentError::io(path, e)
        }
    })?;
    f.write_all(doc.as_ref())
        .and_then(|_| f.sync_all())
        .map_err(|e| AgentError::io(path, e))?;
    Ok(key)
}

/// Loads a PKCS#8 Ed25519 key, refusing files other users can read.
pub fn load_key(path: &Path) -> Result<SigningKey> {
    let bad = |reason: String| AgentError::Key {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            bad("not found; create it with `meter-agent keygen`".into())
        } else {
            AgentError::io(path, e)
        }
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| AgentError::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "mode {:o} lets other users read the key; run chmod 600",
                mode & 0o777
            )));
        }
    }
    SigningKey::from_pkcs8(&bytes).map_err(|e| bad(format!("not an Ed25519 PKCS#8 key: {e}")))
}

/// The tip of a device's chain: the last reading taken (sequence 0 = none yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainTip {
    pub sequence: u64,
    pub hash: ChainHash,
    pub timestamp_ms: i64,
    pub export_wh: u64,
    pub import_wh: u64,
}

impl ChainTip {
    pub const GENESIS: ChainTip = ChainTip {
        sequence: 0,
        hash: ChainHash::GENESIS,
        timestamp_ms: 0,
        export_wh: 0,
        import_wh: 0,
    };

    pub fn of(r: &SignedReading) -> ChainTip {
        ChainTip {
            sequence: r.reading.sequence,
            hash: r.chain_hash(),
            timestamp_ms: r.reading.timestamp_ms,
            export_wh: r.reading.export_wh,
            import_wh: r.reading.import_wh,
        }
    }
}

/// Values for one reading after the counter guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Values {
    pub export_wh: u64,
    pub import_wh: u64,
    pub power_w: i32,
    pub status: DeviceStatus,
}

/// Builds and signs the reading that follows `tip`. `now_ms` must not go back behind the tip
/// (the clock can jump back after a restart without RTC); the timestamp is then held at the tip + 1 ms.
pub fn next_reading(key: &SigningKey, tip: &ChainTip, now_ms: i64, v: Values) -> SignedReading {
    let timestamp_ms = if tip.sequence == 0 {
        now_ms
    } else {
        now_ms.max(tip.timestamp_ms + 1)
    };
    let interval_ms = if tip.sequence == 0 {
        0
    } else {
        u32::try_from(timestamp_ms - tip.timestamp_ms).unwrap_or(u32::MAX)
    };
    let reading = Reading {
        device_id: key.device_id(),
        sequence: tip.sequence + 1,
        timestamp_ms,
        interval_ms,
        export_wh: v.export_wh,
        import_wh: v.import_wh,
        power_w: v.power_w,
        status: v.status,
        prev_hash: tip.hash,
    };
    SignedReading::sign(reading, key)
}

/// Holds cumulative counters monotonic: a total that drops (to 0 or just backwards) is not a
/// reading — the known OpenDTU/evcc failure when an inverter sleeps — so the last good value
/// is kept and the drop is reported.
pub fn guard_counter(name: &str, last_good: u64, new: u64) -> (u64, Option<String>) {
    if new < last_good {
        (
            last_good,
            Some(format!(
                "{name} went from {last_good} Wh to {new} Wh; holding the last good value"
            )),
        )
    } else {
        (new, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_0600_pkcs8_and_refuses_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k/device.key");
        let k = keygen(&p).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(load_key(&p).unwrap().public_key(), k.public_key());
        assert!(matches!(keygen(&p), Err(AgentError::Key { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("device.key");
        keygen(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_key(&p).unwrap_err().to_string().contains("chmod 600"));
    }

    #[test]
    fn readings_chain_and_verify() {
        let key = SigningKey::from_seed(&[7; 32]).unwrap();
        let v = Values {
            export_wh: 10,
            import_wh: 0,
            power_w: 5,
            status: DeviceStatus::Ok,
        };
        let r1 = next_reading(&key, &ChainTip::GENESIS, 1000, v);
        assert_eq!(r1.reading.sequence, 1);
        assert_eq!(r1.reading.prev_hash, ChainHash::GENESIS);
        let r2 = next_reading(&key, &ChainTip::of(&r1), 900, v);
        assert_eq!(r2.reading.sequence, 2);
        assert_eq!(r2.reading.prev_hash, r1.chain_hash());
        assert_eq!(
            r2.reading.timestamp_ms, 1001,
            "clock stepped back: held after the tip"
        );
        r2.verify(&key.public_key()).unwrap();
    }

    #[test]
    fn counter_guard_holds_drops() {
        assert_eq!(guard_counter("x", 100, 120), (120, None));
        let (v, why) = guard_counter("yieldtotal", 100, 0);
        assert_eq!(v, 100);
        assert!(why.unwrap().contains("holding"));
    }
}
