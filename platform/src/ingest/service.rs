//! The ingest pipeline shared by HTTP and MQTT: decode → look up the device → verify with
//! `settlement::verify::assess` → store, one transaction per batch.
//!
//! Exactly-once: a batch runs under per-device locks (see `store::readings::lock_devices`), so
//! two instances ingesting the same device take turns, and `UNIQUE(device_id, sequence)` backs
//! it up. A reading whose bytes equal the stored reading at its sequence is a `duplicate`
//! (at-least-once delivery from agents); different bytes at a used sequence are a
//! `sequence_conflict`, which puts the device under review.

use std::collections::HashMap;

use reading::{DeviceId, SignedReading, WIRE_LEN};
use serde::{Deserialize, Serialize};
use settlement::verify::{
    self, ChainHead, FlagReason, KeyStatus, RejectReason, Verdict, VerifyConfig,
};

use crate::error::{PlatformError, Result};
use crate::store::readings::{self as rows, NewEnergyRow, NewReadingRow, SlotSums, StoredAt};
use crate::store::{write_transaction, Store};

/// Most readings one HTTP request or one transaction may carry.
pub const MAX_BATCH_READINGS: usize = 1_000;
/// Largest `POST /v1/readings` body: 1,000 JSON readings are about 400 KB.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Delivery slot length used for verified energy unless configured otherwise (15 minutes).
pub const DEFAULT_SLOT_MS: i64 = 15 * 60 * 1000;

/// Reason codes the platform adds to the verification codes of `settlement::verify`.
pub const MALFORMED: &str = "malformed";
pub const OUT_OF_RANGE: &str = "out_of_range";

/// How ingest verifies and books readings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IngestConfig {
    pub verify: VerifyConfig,
    pub slot_ms: i64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            verify: VerifyConfig::default(),
            slot_ms: DEFAULT_SLOT_MS,
        }
    }
}

/// One reading to ingest.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub signed: SignedReading,
    /// MQTT only: a reading that would open a gap is held back (answered
    /// [`Decision::Deferred`]) until this time, because with a shared subscription its
    /// predecessor may be in flight to another instance. `None` decides at once.
    pub hold_gap_until_ms: Option<i64>,
}

impl Incoming {
    pub fn now(signed: SignedReading) -> Incoming {
        Incoming {
            signed,
            hold_gap_until_ms: None,
        }
    }
}

/// What became of one reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Stored and verified: its energy counts.
    Accepted,
    /// Stored and held for an operator.
    Flagged(Vec<FlagReason>),
    /// Refused (stored only when authentic; see docs/ingest.md).
    Rejected(RejectReason),
    /// The identical reading is already stored; this is its verdict.
    Duplicate(Verdict),
    /// Not decided yet (see [`Incoming::hold_gap_until_ms`]); nothing was written.
    Deferred,
    /// Could not be decoded or does not fit the store; a platform reason code.
    Invalid(&'static str),
}

/// The receipt status the agent acts on (its contract: `accepted`, `duplicate`, `rejected`).
/// A flagged reading is stored, so it is `accepted` here with `verdict: "flagged"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    Accepted,
    Duplicate,
    Rejected,
}

/// The verification outcome of a stored reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    Accepted,
    Flagged,
    Rejected,
}

/// The answer for one reading, over HTTP and on the MQTT ack topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReadingResult {
    /// The reading's device id (absent when the item could not be decoded that far).
    pub device_id: Option<String>,
    pub sequence: Option<u64>,
    pub status: ReceiptStatus,
    pub verdict: VerdictKind,
    /// Reason codes (see docs/verification.md): flags of a flagged reading, the rejection.
    pub reasons: Vec<String>,
    /// The first reason of a rejection, for agents that log one reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ReadingResult {
    pub fn new(device_id: Option<String>, sequence: Option<u64>, decision: &Decision) -> Self {
        let (status, verdict, reasons): (_, _, Vec<String>) = match decision {
            Decision::Accepted => (ReceiptStatus::Accepted, VerdictKind::Accepted, vec![]),
            Decision::Flagged(flags) => (
                ReceiptStatus::Accepted,
                VerdictKind::Flagged,
                flags.iter().map(|f| f.code().to_owned()).collect(),
            ),
            Decision::Rejected(r) => (
                ReceiptStatus::Rejected,
                VerdictKind::Rejected,
                vec![r.code().to_owned()],
            ),
            Decision::Invalid(code) => (
                ReceiptStatus::Rejected,
                VerdictKind::Rejected,
                vec![(*code).to_owned()],
            ),
            Decision::Duplicate(v) => {
                let (kind, reasons) = verdict_parts(v);
                (ReceiptStatus::Duplicate, kind, reasons)
            }
            // Never answered: callers keep deferred readings.
            Decision::Deferred => (ReceiptStatus::Rejected, VerdictKind::Rejected, vec![]),
        };
        let reason = (status == ReceiptStatus::Rejected)
            .then(|| reasons.first().cloned())
            .flatten();
        ReadingResult {
            device_id,
            sequence,
            status,
            verdict,
            reasons,
            reason,
        }
    }

    pub fn for_reading(signed: &SignedReading, decision: &Decision) -> Self {
        Self::new(
            Some(signed.reading.device_id.to_hex()),
            Some(signed.reading.sequence),
            decision,
        )
    }
}

fn verdict_parts(v: &Verdict) -> (VerdictKind, Vec<String>) {
    match v {
        Verdict::Accepted => (VerdictKind::Accepted, vec![]),
        Verdict::Flagged(f) => (
            VerdictKind::Flagged,
            f.iter().map(|f| f.code().to_owned()).collect(),
        ),
        Verdict::Rejected(r) => (VerdictKind::Rejected, vec![r.code().to_owned()]),
    }
}

/// Why a whole batch was refused (nothing was decided).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("the body is not {{\"readings\":[...]}} JSON: {0}")]
    MalformedJson(String),
    #[error("the body is {0} bytes, not a whole number of {WIRE_LEN}-byte wire readings: truncated or padded")]
    Truncated(usize),
    #[error("the batch has {0} readings; send at most {MAX_BATCH_READINGS} per request")]
    TooManyReadings(usize),
    #[error("the body has at least {0} bytes; send at most {MAX_BODY_BYTES} bytes per request")]
    BodyTooLarge(usize),
    #[error(transparent)]
    Store(#[from] PlatformError),
}

/// One decoded item of a batch: the reading, or what is known about an undecodable one.
#[derive(Clone, Debug)]
pub enum Item {
    Reading(SignedReading),
    Malformed {
        device_id: Option<String>,
        sequence: Option<u64>,
    },
}

#[derive(Deserialize)]
struct JsonBatch {
    readings: Vec<serde_json::Value>,
}

/// Decodes `{"readings":[<JSON form>...]}`; an item that is not a valid reading becomes
/// [`Item::Malformed`] so the rest of the batch still counts.
pub fn decode_json_batch(body: &[u8]) -> Result<Vec<Item>, BatchError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BatchError::BodyTooLarge(body.len()));
    }
    let batch: JsonBatch =
        serde_json::from_slice(body).map_err(|e| BatchError::MalformedJson(e.to_string()))?;
    if batch.readings.len() > MAX_BATCH_READINGS {
        return Err(BatchError::TooManyReadings(batch.readings.len()));
    }
    Ok(batch
        .readings
        .into_iter()
        .map(|value| {
            let device_id = value
                .get("device_id")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let sequence = value.get("sequence").and_then(|v| v.as_u64());
            match serde_json::from_value::<SignedReading>(value) {
                Ok(signed) => Item::Reading(signed),
                Err(_) => Item::Malformed {
                    device_id,
                    sequence,
                },
            }
        })
        .collect())
}

/// Decodes a body of concatenated 154-byte wire readings (`application/octet-stream`).
pub fn decode_wire_batch(body: &[u8]) -> Result<Vec<Item>, BatchError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BatchError::BodyTooLarge(body.len()));
    }
    if body.len() % WIRE_LEN != 0 {
        return Err(BatchError::Truncated(body.len()));
    }
    if body.len() / WIRE_LEN > MAX_BATCH_READINGS {
        return Err(BatchError::TooManyReadings(body.len() / WIRE_LEN));
    }
    Ok(body
        .chunks(WIRE_LEN)
        .map(|chunk| match SignedReading::from_wire(chunk) {
            Ok(signed) => Item::Reading(signed),
            Err(_) => Item::Malformed {
                device_id: None,
                sequence: None,
            },
        })
        .collect())
}

/// Decodes one MQTT payload: the JSON form (what `meter-agent` sends) or the wire form.
pub fn decode_payload(payload: &[u8]) -> Option<SignedReading> {
    if payload.first() == Some(&b'{') {
        std::str::from_utf8(payload)
            .ok()
            .and_then(|text| SignedReading::from_json(text).ok())
    } else {
        SignedReading::from_wire(payload).ok()
    }
}

/// Per-device state while a batch runs.
struct DeviceState {
    loaded: rows::LoadedDevice,
    dirty: bool,
}

/// Ingest over one store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct IngestService {
    store: Store,
    config: IngestConfig,
    /// The entry points' clock (HTTP handler, MQTT subscriber); tests pin it.
    clock: fn() -> i64,
}

impl IngestService {
    pub fn new(store: Store, config: IngestConfig) -> Result<Self> {
        config
            .verify
            .validate()
            .map_err(|e| PlatformError::InvalidArgument {
                what: "verification config",
                input: format!("{:?}", config.verify),
                reason: e.to_string(),
            })?;
        if config.slot_ms <= 0 {
            return Err(PlatformError::InvalidArgument {
                what: "slot length",
                input: config.slot_ms.to_string(),
                reason: "must be > 0 ms".to_owned(),
            });
        }
        Ok(IngestService {
            store,
            config,
            clock: crate::clock::now_ms,
        })
    }

    /// The same service reading time from `clock` (UTC ms), e.g. a fixed instant in tests.
    pub fn with_clock(self, clock: fn() -> i64) -> Self {
        IngestService { clock, ..self }
    }

    /// Now, by this service's clock: what the entry points pass to [`IngestService::ingest`].
    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &IngestConfig {
        &self.config
    }

    /// Decides a decoded batch (as from [`decode_json_batch`]) and answers per item, in order.
    pub fn ingest_items(&self, items: &[Item], now_ms: i64) -> Result<Vec<ReadingResult>> {
        let readings: Vec<Incoming> = items
            .iter()
            .filter_map(|item| match item {
                Item::Reading(signed) => Some(Incoming::now(signed.clone())),
                Item::Malformed { .. } => None,
            })
            .collect();
        let mut decisions = self.ingest(&readings, now_ms)?.into_iter();
        let mut readings = readings.iter();
        Ok(items
            .iter()
            .map(|item| match item {
                Item::Reading(_) => {
                    let (signed, decision) = (
                        readings.next().map(|i| &i.signed),
                        decisions.next().unwrap_or(Decision::Deferred),
                    );
                    match signed {
                        Some(s) => ReadingResult::for_reading(s, &decision),
                        None => ReadingResult::new(None, None, &Decision::Invalid(MALFORMED)),
                    }
                }
                Item::Malformed {
                    device_id,
                    sequence,
                } => {
                    ReadingResult::new(device_id.clone(), *sequence, &Decision::Invalid(MALFORMED))
                }
            })
            .collect())
    }

    /// Verifies and stores a batch in one transaction; one decision per reading, in order.
    /// A storage error decides nothing (the transaction is rolled back): the sender retries.
    pub fn ingest(&self, batch: &[Incoming], now_ms: i64) -> Result<Vec<Decision>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.store.connection()?;
        write_transaction(&mut conn, |conn| self.ingest_in(conn, batch, now_ms))
    }

    fn ingest_in(
        &self,
        conn: &mut crate::store::AnyConnection,
        batch: &[Incoming],
        now_ms: i64,
    ) -> Result<Vec<Decision>> {
        let cfg = &self.config;
        let mut ids: Vec<DeviceId> = batch.iter().map(|i| i.signed.reading.device_id).collect();
        ids.sort_unstable_by_key(|id| *id.as_bytes());
        ids.dedup();
        rows::lock_devices(conn, &ids)?;
        let mut loaded = rows::load_devices(conn, &ids)?;
        let mut devices: HashMap<DeviceId, Option<DeviceState>> = ids
            .iter()
            .map(|id| {
                let state = loaded.remove(id).map(|loaded| DeviceState {
                    loaded,
                    dirty: false,
                });
                (*id, state)
            })
            .collect();

        // Per device in sequence order, whatever order the batch came in.
        let mut order: Vec<usize> = (0..batch.len()).collect();
        order.sort_by_key(|&i| {
            let r = &batch[i].signed.reading;
            (*r.device_id.as_bytes(), r.sequence)
        });

        let mut decisions = vec![Decision::Deferred; batch.len()];
        let mut new_rows: Vec<NewReadingRow> = Vec::new();
        let mut new_energy: Vec<NewEnergyRow> = Vec::new();
        let mut pending: HashMap<(DeviceId, u64), usize> = HashMap::new();
        let mut sums = SlotSums::new();

        for index in order {
            let item = &batch[index];
            let signed = &item.signed;
            let r = &signed.reading;
            let (Some(sequence), Some(export_wh), Some(import_wh)) = (
                rows::to_i64(r.sequence),
                rows::to_i64(r.export_wh),
                rows::to_i64(r.import_wh),
            ) else {
                decisions[index] = Decision::Invalid(OUT_OF_RANGE);
                continue;
            };
            let mut state = devices.get_mut(&r.device_id).and_then(Option::as_mut);
            let wire = signed.to_wire();

            if let Some(st) = state.as_deref_mut() {
                st.loaded.context.stored_at_sequence = None;
                let head_seq = st.loaded.context.head.map(|h| h.sequence);
                if head_seq.is_some_and(|h| r.sequence <= h) {
                    let stored = match pending.get(&(r.device_id, r.sequence)) {
                        Some(&row) => Some(pending_as_stored(&new_rows[row])?),
                        None => rows::stored_at(conn, &r.device_id, r.sequence)?,
                    };
                    if let Some(stored) = stored {
                        if stored.wire == wire {
                            decisions[index] = Decision::Duplicate(stored.verdict);
                            continue;
                        }
                        st.loaded.context.stored_at_sequence = Some(stored.chain_hash);
                    }
                }
                let opens_gap = match head_seq {
                    None => r.sequence > 1,
                    Some(h) => r.sequence > h.saturating_add(1),
                };
                if opens_gap && item.hold_gap_until_ms.is_some_and(|until| now_ms < until) {
                    decisions[index] = Decision::Deferred;
                    continue;
                }
            }

            let ctx = state.as_deref().map(|s| &s.loaded.context);
            let assessment = verify::assess(signed, ctx, &cfg.verify, now_ms);

            let Some(st) = state else {
                decisions[index] = match assessment.verdict {
                    Verdict::Rejected(reason) => Decision::Rejected(reason),
                    // Without a context `assess` always rejects (unknown device).
                    _ => Decision::Rejected(RejectReason::UnknownDevice),
                };
                continue;
            };
            if assessment.flag_device && st.loaded.context.status != KeyStatus::Revoked {
                st.loaded.context.status = KeyStatus::UnderReview;
                if st.loaded.review_reason.is_none() {
                    st.loaded.review_reason = match &assessment.verdict {
                        Verdict::Rejected(reason) => Some(reason.code().to_owned()),
                        _ => Some("flagged".to_owned()),
                    };
                }
                st.dirty = true;
            }
            let Some(new_head) = assessment.new_head else {
                let Verdict::Rejected(reason) = assessment.verdict else {
                    // `assess` moves the head for every reading it does not reject.
                    decisions[index] = Decision::Invalid(MALFORMED);
                    continue;
                };
                if !matches!(
                    reason,
                    RejectReason::UnknownDevice | RejectReason::BadSignature
                ) {
                    rows::log_rejected(conn, signed, reason, now_ms)?;
                }
                decisions[index] = Decision::Rejected(reason);
                continue;
            };

            if let Some(gap) = &assessment.gap {
                rows::insert_gap(conn, &r.device_id, gap.start, gap.end - 1, now_ms)?;
            }
            let energy = assessment.energy;
            if let (Verdict::Accepted, Some(e)) = (&assessment.verdict, energy) {
                rows::accumulate_slots(
                    &mut sums,
                    r.device_id,
                    e.start_ms,
                    e.end_ms,
                    e.export_wh,
                    e.import_wh,
                    cfg.slot_ms,
                );
            }
            if let Some(e) = energy {
                if let (Some(export_wh), Some(import_wh)) =
                    (rows::to_i64(e.export_wh), rows::to_i64(e.import_wh))
                {
                    new_energy.push(NewEnergyRow {
                        device_id: r.device_id.to_hex(),
                        sequence,
                        start_ms: e.start_ms,
                        end_ms: e.end_ms,
                        export_wh,
                        import_wh,
                    });
                }
            }
            let (verdict, reasons) = rows::verdict_text(&assessment.verdict);
            pending.insert((r.device_id, r.sequence), new_rows.len());
            new_rows.push(NewReadingRow {
                device_id: r.device_id.to_hex(),
                sequence,
                timestamp_ms: r.timestamp_ms,
                interval_ms: i64::from(r.interval_ms),
                export_wh,
                import_wh,
                power_w: i64::from(r.power_w),
                status: rows::status_text(r.status).to_owned(),
                prev_hash: r.prev_hash.to_hex(),
                chain_hash: new_head.chain_hash.to_hex(),
                wire: wire.to_vec(),
                verdict: verdict.to_owned(),
                reasons,
                received_at_ms: now_ms,
                decided_at_ms: None,
                decided_by: None,
            });
            st.loaded.context.head = Some(new_head);
            st.dirty = true;
            decisions[index] = match assessment.verdict {
                Verdict::Accepted => Decision::Accepted,
                Verdict::Flagged(flags) => Decision::Flagged(flags),
                Verdict::Rejected(reason) => Decision::Rejected(reason),
            };
        }

        rows::insert_readings(conn, &new_rows, &new_energy)?;
        let mut dirty: Vec<(DeviceId, Option<ChainHead>, Option<String>)> = devices
            .iter()
            .filter_map(|(id, st)| {
                st.as_ref()
                    .filter(|s| s.dirty)
                    .map(|s| (*id, s.loaded.context.head, s.loaded.review_reason.clone()))
            })
            .collect();
        dirty.sort_unstable_by_key(|d| *d.0.as_bytes());
        rows::save_heads(conn, &dirty, now_ms)?;
        rows::add_verified_energy(conn, &sums)?;
        Ok(decisions)
    }
}

/// A reading inserted earlier in the same batch, seen as if stored.
fn pending_as_stored(row: &NewReadingRow) -> Result<StoredAt> {
    let corrupt = |reason: String| PlatformError::CorruptRow {
        table: "readings",
        key: format!("{}/{}", row.device_id, row.sequence),
        reason,
    };
    Ok(StoredAt {
        wire: row.wire.clone(),
        chain_hash: reading::ChainHash::from_hex(&row.chain_hash)
            .map_err(|e| corrupt(e.to_string()))?,
        verdict: rows::parse_verdict(&row.verdict, &row.reasons)
            .ok_or_else(|| corrupt(row.verdict.clone()))?,
    })
}
