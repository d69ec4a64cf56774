//! The durable spool: an append-only log of signed readings on disk, removed only after the
//! platform acknowledged them.
//!
//! Layout of the spool directory:
//! - `seg-<first sequence, 20 digits>.log`: records `[len: u32 LE][crc32: u32 LE][wire bytes]`,
//!   one signed reading each, consecutive sequences. A new segment starts when the active one
//!   exceeds `segment_bytes`.
//! - `acked`: the highest acknowledged sequence and its chain hash `[seq u64 LE][hash 32][crc32]`,
//!   replaced atomically (write temp, fsync, rename, fsync dir).
//!
//! A reading counts as taken only after its record is fsync'd. A torn tail record (power loss
//! mid-write) fails its length or CRC check and is cut off at open, so the chain continues from
//! the last whole record. When the spool reaches its bound, new readings are refused rather
//! than old ones dropped: counters are cumulative, so a later reading still carries the energy,
//! whereas a dropped reading would be a gap in the chain forever.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use reading::{ChainHash, SignedReading, WIRE_LEN};

use crate::error::{AgentError, Result};
use crate::signer::ChainTip;

const HEADER: usize = 8;
const RECORD: usize = HEADER + WIRE_LEN;
const ACK_LEN: usize = 8 + 32 + 4;

/// Bounds of one spool.
#[derive(Clone, Copy, Debug)]
pub struct SpoolLimits {
    /// Total bytes of all segments; appends are refused above it.
    pub max_bytes: u64,
    /// A segment is closed when it reaches this size.
    pub segment_bytes: u64,
}

impl Default for SpoolLimits {
    fn default() -> Self {
        SpoolLimits {
            max_bytes: 64 * 1024 * 1024,
            segment_bytes: 1024 * 1024,
        }
    }
}

#[derive(Debug)]
struct Segment {
    /// Last sequence in the segment (first_seq - 1 when empty).
    last_seq: u64,
    path: PathBuf,
    bytes: u64,
}

/// An open spool.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    limits: SpoolLimits,
    segments: Vec<Segment>,
    active: Option<File>,
    acked: u64,
    tip: ChainTip,
    warned_near_full: bool,
}

fn frame(r: &SignedReading) -> [u8; RECORD] {
    let wire = r.to_wire();
    let mut rec = [0u8; RECORD];
    rec[0..4].copy_from_slice(&(WIRE_LEN as u32).to_le_bytes());
    rec[4..8].copy_from_slice(&crc32fast::hash(&wire).to_le_bytes());
    rec[HEADER..].copy_from_slice(&wire);
    rec
}

/// Parses records from `buf`; returns the readings and the length of the valid prefix.
fn parse_records(
    buf: &[u8],
    mut expect_seq: Option<u64>,
) -> (Vec<SignedReading>, usize, Option<String>) {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        if rest.len() < HEADER {
            return (
                out,
                off,
                Some(format!(
                    "{} trailing bytes, shorter than a record header",
                    rest.len()
                )),
            );
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if len != WIRE_LEN {
            return (
                out,
                off,
                Some(format!(
                    "record length {len} at offset {off}, expected {WIRE_LEN}"
                )),
            );
        }
        let Some(body) = rest.get(HEADER..HEADER + len) else {
            return (out, off, Some(format!("record at offset {off} cut short")));
        };
        if crc32fast::hash(body) != crc {
            return (out, off, Some(format!("CRC mismatch at offset {off}")));
        }
        let r = match SignedReading::from_wire(body) {
            Ok(r) => r,
            Err(e) => {
                return (
                    out,
                    off,
                    Some(format!("undecodable record at offset {off}: {e}")),
                )
            }
        };
        if let Some(want) = expect_seq {
            if r.reading.sequence != want {
                return (
                    out,
                    off,
                    Some(format!(
                        "sequence {} at offset {off}, expected {want}",
                        r.reading.sequence
                    )),
                );
            }
        }
        expect_seq = Some(r.reading.sequence + 1);
        out.push(r);
        off += HEADER + len;
    }
    (out, off, None)
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| AgentError::io(dir, e))
}

fn segment_name(first_seq: u64) -> String {
    format!("seg-{first_seq:020}.log")
}

impl Spool {
    /// Opens (or creates) the spool in `dir`, recovering from a torn tail.
    pub fn open(dir: &Path, limits: SpoolLimits) -> Result<Spool> {
        std::fs::create_dir_all(dir).map_err(|e| AgentError::io(dir, e))?;
        let (acked, acked_hash) = read_ack(dir)?;
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(|e| AgentError::io(dir, e))? {
            let e = e.map_err(|e| AgentError::io(dir, e))?;
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(n) = name
                .strip_prefix("seg-")
                .and_then(|s| s.strip_suffix(".log"))
            {
                if let Ok(first) = n.parse::<u64>() {
                    names.push((first, e.path()));
                }
            }
        }
        // numeric order, not string order
        names.sort_by_key(|(first, _)| *first);
        let mut segments = Vec::new();
        let mut tip = ChainTip {
            sequence: acked,
            hash: acked_hash,
            ..ChainTip::GENESIS
        };
        let mut last_reading: Option<SignedReading> = None;
        let count = names.len();
        for (i, (first, path)) in names.into_iter().enumerate() {
            let mut buf = Vec::new();
            File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(|e| AgentError::io(&path, e))?;
            let expect = last_reading
                .as_ref()
                .map(|r| r.reading.sequence + 1)
                .unwrap_or(first);
            let (recs, valid, problem) = parse_records(&buf, Some(expect));
            if let Some(p) = problem {
                if i + 1 == count {
                    tracing::warn!(segment = %path.display(), "dropping torn tail of the spool: {p}");
                } else {
                    tracing::error!(segment = %path.display(), "spool segment damaged, keeping {} whole records before it: {p}", recs.len());
                }
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|e| AgentError::io(&path, e))?;
                f.set_len(valid as u64)
                    .and_then(|_| f.sync_all())
                    .map_err(|e| AgentError::io(&path, e))?;
            }
            let last_seq = recs
                .last()
                .map(|r| r.reading.sequence)
                .unwrap_or(expect - 1);
            if let Some(r) = recs.last() {
                last_reading = Some(r.clone());
            }
            segments.push(Segment {
                last_seq,
                path,
                bytes: valid as u64,
            });
        }
        if let Some(r) = &last_reading {
            if r.reading.sequence >= tip.sequence {
                tip = ChainTip::of(r);
            }
        }
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            limits,
            segments,
            active: None,
            acked,
            tip,
            warned_near_full: false,
        };
        spool.drop_acked_segments()?;
        Ok(spool)
    }

    /// The last reading taken (sequence 0 when none ever was).
    pub fn tip(&self) -> ChainTip {
        self.tip
    }

    /// Highest acknowledged sequence.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Readings taken but not yet acknowledged.
    pub fn pending_count(&self) -> u64 {
        self.tip.sequence.saturating_sub(self.acked)
    }

    pub fn used_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Appends `r` (which must continue the chain) and fsyncs it: after `Ok` the reading is taken.
    pub fn append(&mut self, r: &SignedReading) -> Result<()> {
        if r.reading.sequence != self.tip.sequence + 1 || r.reading.prev_hash != self.tip.hash {
            return Err(AgentError::Spool {
                path: self.dir.clone(),
                reason: format!(
                    "reading {} does not continue the chain at {}",
                    r.reading.sequence, self.tip.sequence
                ),
            });
        }
        let used = self.used_bytes();
        if used + RECORD as u64 > self.limits.max_bytes {
            return Err(AgentError::SpoolFull {
                used,
                limit: self.limits.max_bytes,
            });
        }
        if used * 10 >= self.limits.max_bytes * 8 {
            if !self.warned_near_full {
                tracing::warn!(used, limit = self.limits.max_bytes, pending = self.pending_count(),
                    "spool is above 80% of its bound: the platform has not acknowledged readings for a while");
                self.warned_near_full = true;
            }
        } else {
            self.warned_near_full = false;
        }
        let need_new = match self.segments.last() {
            None => true,
            Some(s) => s.bytes >= self.limits.segment_bytes,
        };
        if need_new {
            let path = self.dir.join(segment_name(r.reading.sequence));
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| AgentError::io(&path, e))?;
            fsync_dir(&self.dir)?;
            self.segments.push(Segment {
                last_seq: r.reading.sequence - 1,
                path,
                bytes: 0,
            });
            self.active = Some(f);
        }
        let Some(seg) = self.segments.last_mut() else {
            return Err(AgentError::Spool {
                path: self.dir.clone(),
                reason: "no active segment".into(),
            });
        };
        if self.active.is_none() {
            let f = OpenOptions::new()
                .append(true)
                .open(&seg.path)
                .map_err(|e| AgentError::io(&seg.path, e))?;
            self.active = Some(f);
        }
        let rec = frame(r);
        let res = match self.active.as_mut() {
            Some(f) => f.write_all(&rec).and_then(|_| f.sync_data()),
            None => Ok(()),
        };
        if let Err(e) = res {
            // the file may now end in a partial record: reopen (and repair) before the next append
            self.active = None;
            let path = seg.path.clone();
            if let Ok(f) = OpenOptions::new().write(true).open(&path) {
                let _ = f.set_len(seg.bytes);
            }
            return Err(AgentError::io(path, e));
        }
        seg.bytes += RECORD as u64;
        seg.last_seq = r.reading.sequence;
        self.tip = ChainTip::of(r);
        Ok(())
    }

    /// Up to `max` unacknowledged readings, oldest first.
    pub fn pending(&self, max: usize) -> Result<Vec<SignedReading>> {
        let mut out = Vec::new();
        for seg in &self.segments {
            if out.len() >= max {
                break;
            }
            if seg.last_seq <= self.acked || seg.bytes == 0 {
                continue;
            }
            let mut buf = Vec::new();
            File::open(&seg.path)
                .and_then(|mut f| f.read_to_end(&mut buf))
                .map_err(|e| AgentError::io(&seg.path, e))?;
            let valid = (seg.bytes as usize).min(buf.len());
            let (recs, _, _) = parse_records(&buf[..valid], None);
            out.extend(
                recs.into_iter()
                    .filter(|r| r.reading.sequence > self.acked)
                    .take(max - out.len()),
            );
        }
        Ok(out)
    }

    /// Records that the platform acknowledged everything up to `seq` (and its hash), then
    /// deletes segments that hold only acknowledged readings.
    pub fn ack_through(&mut self, seq: u64, hash: ChainHash) -> Result<()> {
        if seq <= self.acked {
            return Ok(());
        }
        if seq > self.tip.sequence {
            return Err(AgentError::Spool {
                path: self.dir.clone(),
                reason: format!(
                    "ack for {seq} beyond the last reading taken ({})",
                    self.tip.sequence
                ),
            });
        }
        write_ack(&self.dir, seq, &hash)?;
        self.acked = seq;
        self.drop_acked_segments()
    }

    fn drop_acked_segments(&mut self) -> Result<()> {
        let mut removed = false;
        // the segment holding the last record always stays: it is where the chain tip (its
        // hash, time and counters) is recovered from after a restart
        while self.segments.len() > 1
            && self.segments[0].last_seq <= self.acked
            && self.segments[1..].iter().any(|s| s.bytes > 0)
        {
            let s = self.segments.remove(0);
            std::fs::remove_file(&s.path).map_err(|e| AgentError::io(&s.path, e))?;
            removed = true;
        }
        if removed {
            fsync_dir(&self.dir)?;
        }
        Ok(())
    }
}

fn read_ack(dir: &Path) -> Result<(u64, ChainHash)> {
    let path = dir.join("acked");
    let buf = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, ChainHash::GENESIS)),
        Err(e) => return Err(AgentError::io(&path, e)),
    };
    let bad = || {
        AgentError::Spool {
        path: path.clone(),
        reason: "ack file is damaged; it is replaced atomically, so this is not a torn write: restore it or remove the spool after the platform confirms what it has".into(),
    }
    };
    if buf.len() != ACK_LEN || crc32fast::hash(&buf[..40]).to_le_bytes() != buf[40..44] {
        return Err(bad());
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&buf[..8]);
    let mut h = [0u8; 32];
    h.copy_from_slice(&buf[8..40]);
    Ok((u64::from_le_bytes(seq), ChainHash::from_bytes(h)))
}

fn write_ack(dir: &Path, seq: u64, hash: &ChainHash) -> Result<()> {
    let mut buf = Vec::with_capacity(ACK_LEN);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(hash.as_bytes());
    let crc = crc32fast::hash(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join("acked.tmp");
    let path = dir.join("acked");
    File::create(&tmp)
        .and_then(|mut f| f.write_all(&buf).and_then(|_| f.sync_all()))
        .map_err(|e| AgentError::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| AgentError::io(&path, e))?;
    fsync_dir(dir)
}

#[cfg(test)]
#[path = "spool_tests.rs"]
mod tests;
