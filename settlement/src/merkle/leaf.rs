//! Canonical leaf records: what a log leaf's bytes are, so anyone can recompute
//! `SHA-256(0x00 ‖ leaf)` with `sha256sum`.
//!
//! Encoding (`sunmesh-leaf/1`): one JSON object, UTF-8, no whitespace, keys sorted by byte
//! order at every level, integers as plain decimal numbers, 128-bit ids and hashes as
//! lowercase hex strings, absent values as `null`. Strings escape only `"`, `\` and control
//! characters (`\b \f \n \r \t`, else `\u00xx`). See `docs/transparency-log.md`.

use serde_json::Value;

use crate::carbon::{carbon_grams, EmissionFactor};
use crate::ledger::{AccountId, TransferId};
use crate::SettlementError;

pub const LEAF_FORMAT: &str = "sunmesh-leaf/1";

/// A carbon mint (or its correction by a reconciliation run).
pub struct CarbonMintRecord<'a> {
    pub zone: &'a str,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub run_version: u32,
    pub methodology: &'a str,
    pub account: AccountId,
    pub exported_wh: u64,
    pub reading_range: Option<(u64, u64)>,
    pub factor: &'a EmissionFactor,
    /// `floor(exported_wh × factor / 10^6)`: the grams this run attributes to the slot.
    pub grams: u128,
    /// What this run's transfer moved (grams minus what earlier runs minted; may be < 0).
    pub minted_g: i128,
    pub transfer_id: Option<TransferId>,
}

/// Reward tokens minted to one participant for one epoch.
pub struct RewardMintRecord {
    pub epoch: u64,
    pub epoch_start_ms: i64,
    pub epoch_len_ms: i64,
    pub pool: u128,
    pub account: AccountId,
    pub weight_g: u128,
    pub total_weight_g: u128,
    pub amount: u128,
    pub transfer_id: TransferId,
}

/// One settlement run of one (zone, slot): its totals and digests of its inputs and transfers.
pub struct RunRecord<'a> {
    pub zone: &'a str,
    pub slot_start_ms: i64,
    pub slot_len_ms: i64,
    pub run_version: u32,
    pub methodology: &'a str,
    pub trades: u64,
    pub contracted_wh: u64,
    pub metered_export_wh: u64,
    pub metered_import_wh: u64,
    pub delivered_wh: u64,
    pub imbalance_wh: u64,
    pub imbalance_price_micro_per_kwh: i64,
    pub imbalance_amount_micro: i128,
    pub traded_amount_micro: i128,
    pub carbon_g: u128,
    pub inputs_sha256: [u8; 32],
    pub transfer_count: u64,
    pub transfer_ids_sha256: [u8; 32],
}

/// A value already rendered canonically.
pub(crate) struct Json(pub(crate) String);

pub(crate) fn num(n: impl std::fmt::Display) -> Json {
    Json(n.to_string())
}

pub(crate) fn text(s: &str) -> Json {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    Json(out)
}

pub(crate) fn object(mut fields: Vec<(&str, Json)>) -> Json {
    fields.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::from("{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&text(key).0);
        out.push(':');
        out.push_str(&value.0);
    }
    out.push('}');
    Json(out)
}

pub(crate) fn null() -> Json {
    Json("null".into())
}

pub fn carbon_mint_leaf(r: &CarbonMintRecord<'_>) -> Vec<u8> {
    MintLeafEncoder::new(r.factor, r.zone, r.methodology).encode(r)
}

/// Encodes many mint leaves of one run, rendering the shared parts (factor, zone,
/// methodology) once. Writes keys in their sorted order directly; `validate_leaf`'s
/// canonical re-rendering in the tests proves the order.
pub struct MintLeafEncoder {
    factor: String,
    zone: String,
    methodology: String,
}

impl MintLeafEncoder {
    pub fn new(f: &EmissionFactor, zone: &str, methodology: &str) -> Self {
        let factor = object(vec![
            ("g_per_mwh", num(f.g_per_mwh)),
            ("kind", text(f.kind.name())),
            ("source", text(&f.source)),
            ("valid_from_ms", num(f.valid_from_ms)),
            ("valid_to_ms", num(f.valid_to_ms)),
            ("version", text(&f.version)),
            ("zone", text(&f.zone)),
        ]);
        Self {
            factor: factor.0,
            zone: text(zone).0,
            methodology: text(methodology).0,
        }
    }

    /// Encodes `r`; its factor, zone and methodology are taken from the encoder.
    pub fn encode(&self, r: &CarbonMintRecord<'_>) -> Vec<u8> {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(256 + self.factor.len());
        // Writing to a String cannot fail.
        let _ = write!(
            out,
            "{{\"account\":{},\"exported_wh\":{},\"factor\":{},\"format\":\"{LEAF_FORMAT}\",\"grams\":{},\"kind\":\"carbon_mint\",\"methodology\":{},\"minted_g\":{},\"readings\":",
            r.account.0, r.exported_wh, self.factor, r.grams, self.methodology, r.minted_g
        );
        let _ = match r.reading_range {
            Some((first, last)) => write!(out, "{{\"first_seq\":{first},\"last_seq\":{last}}}"),
            None => write!(out, "null"),
        };
        let _ = write!(
            out,
            ",\"run_version\":{},\"slot_len_ms\":{},\"slot_start_ms\":{},\"transfer_id\":",
            r.run_version, r.slot_len_ms, r.slot_start_ms
        );
        let _ = match r.transfer_id {
            Some(id) => write!(out, "\"{id}\""),
            None => write!(out, "null"),
        };
        let _ = write!(out, ",\"zone\":{}}}", self.zone);
        out.into_bytes()
    }
}

pub fn reward_mint_leaf(r: &RewardMintRecord) -> Vec<u8> {
    object(vec![
        ("format", text(LEAF_FORMAT)),
        ("kind", text("reward_mint")),
        ("epoch", num(r.epoch)),
        ("epoch_start_ms", num(r.epoch_start_ms)),
        ("epoch_len_ms", num(r.epoch_len_ms)),
        ("pool", num(r.pool)),
        ("account", num(r.account.0)),
        ("weight_g", num(r.weight_g)),
        ("total_weight_g", num(r.total_weight_g)),
        ("amount", num(r.amount)),
        ("transfer_id", text(&r.transfer_id.to_hex())),
    ])
    .0
    .into_bytes()
}

pub fn settlement_run_leaf(r: &RunRecord<'_>) -> Vec<u8> {
    object(vec![
        ("format", text(LEAF_FORMAT)),
        ("kind", text("settlement_run")),
        ("zone", text(r.zone)),
        ("slot_start_ms", num(r.slot_start_ms)),
        ("slot_len_ms", num(r.slot_len_ms)),
        ("run_version", num(r.run_version)),
        ("methodology", text(r.methodology)),
        ("trades", num(r.trades)),
        ("contracted_wh", num(r.contracted_wh)),
        ("metered_export_wh", num(r.metered_export_wh)),
        ("metered_import_wh", num(r.metered_import_wh)),
        ("delivered_wh", num(r.delivered_wh)),
        ("imbalance_wh", num(r.imbalance_wh)),
        (
            "imbalance_price_micro_per_kwh",
            num(r.imbalance_price_micro_per_kwh),
        ),
        ("imbalance_amount_micro", num(r.imbalance_amount_micro)),
        ("traded_amount_micro", num(r.traded_amount_micro)),
        ("carbon_g", num(r.carbon_g)),
        ("inputs_sha256", text(&hex::encode(r.inputs_sha256))),
        ("transfer_count", num(r.transfer_count)),
        (
            "transfer_ids_sha256",
            text(&hex::encode(r.transfer_ids_sha256)),
        ),
    ])
    .0
    .into_bytes()
}

/// Re-renders a parsed value canonically; `None` for floats (never used in leaves).
fn canonical(value: &Value) -> Option<Json> {
    Some(match value {
        Value::Null => null(),
        Value::Bool(b) => Json(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Json(n.to_string()),
        Value::Number(_) => return None,
        Value::String(s) => text(s),
        Value::Array(items) => {
            let parts: Option<Vec<String>> =
                items.iter().map(|v| canonical(v).map(|j| j.0)).collect();
            Json(format!("[{}]", parts?.join(",")))
        }
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            for (k, v) in map {
                fields.push((k.as_str(), canonical(v)?));
            }
            object(fields)
        }
    })
}

/// Checks one leaf: canonical `sunmesh-leaf/1` JSON of a known kind, with the fields its
/// kind requires; a carbon mint's grams must follow from its export and factor.
pub fn validate_leaf(index: u64, leaf: &[u8]) -> Result<(), SettlementError> {
    let bad = |reason: String| SettlementError::BadLeaf { index, reason };
    let value: Value = serde_json::from_slice(leaf).map_err(|e| bad(format!("not JSON: {e}")))?;
    match canonical(&value) {
        Some(json) if json.0.as_bytes() == leaf => {}
        _ => {
            return Err(bad(
                "not in canonical form (sorted keys, no spaces, integers)".into(),
            ))
        }
    }
    let field = |name: &str| value.get(name);
    let int = |name: &str| -> Result<i128, SettlementError> {
        let v = field(name).ok_or_else(|| bad(format!("missing `{name}`")))?;
        v.as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
            .ok_or_else(|| bad(format!("`{name}` is not an integer")))
    };
    if field("format").and_then(Value::as_str) != Some(LEAF_FORMAT) {
        return Err(bad(format!("`format` is not {LEAF_FORMAT}")));
    }
    let kind = field("kind").and_then(Value::as_str).unwrap_or_default();
    let required: &[&str] = match kind {
        "carbon_mint" => &["account", "exported_wh", "grams", "minted_g", "run_version"],
        "reward_mint" => &[
            "account",
            "amount",
            "epoch",
            "pool",
            "weight_g",
            "total_weight_g",
        ],
        "settlement_run" => &["run_version", "delivered_wh", "contracted_wh", "carbon_g"],
        other => return Err(bad(format!("unknown kind `{other}`"))),
    };
    for name in required {
        int(name)?;
    }
    if kind == "carbon_mint" {
        let factor = field("factor").ok_or_else(|| bad("missing `factor`".into()))?;
        let g_per_mwh = factor
            .get("g_per_mwh")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("factor has no integer `g_per_mwh`".into()))?;
        let exported = u64::try_from(int("exported_wh")?)
            .map_err(|_| bad("`exported_wh` is negative".into()))?;
        let expected = carbon_grams(exported, g_per_mwh);
        if i128::try_from(expected).ok() != Some(int("grams")?) {
            return Err(bad(format!(
                "grams should be floor({exported} Wh × {g_per_mwh} g/MWh / 10^6) = {expected}"
            )));
        }
    }
    if kind == "reward_mint" && int("amount")? > int("pool")? {
        return Err(bad("reward amount exceeds the epoch pool".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carbon::FactorKind;

    fn factor() -> EmissionFactor {
        EmissionFactor {
            zone: "PH-LV".into(),
            valid_from_ms: 0,
            valid_to_ms: 10,
            kind: FactorKind::CombinedMargin,
            source: "DOE \"NGEF\"\n2015".into(),
            version: "v1".into(),
            g_per_mwh: 683_600,
        }
    }

    fn mint(grams: u128) -> Vec<u8> {
        let f = factor();
        carbon_mint_leaf(&CarbonMintRecord {
            zone: "PH-LV",
            slot_start_ms: 0,
            slot_len_ms: 900_000,
            run_version: 1,
            methodology: "m1",
            account: AccountId(7),
            exported_wh: 3_200,
            reading_range: Some((1, 3)),
            factor: &f,
            grams,
            minted_g: 2_187,
            transfer_id: Some(TransferId(255)),
        })
    }

    #[test]
    fn mint_leaf_is_canonical_sorted_and_valid() {
        let leaf = mint(2_187);
        let text = String::from_utf8(leaf.clone()).expect("utf8");
        assert!(text.starts_with(r#"{"account":7,"exported_wh":3200,"factor":{"g_per_mwh":683600,"kind":"combined_margin","source":"DOE \"NGEF\"\n2015","#));
        assert!(
            text.ends_with(r#""transfer_id":"000000000000000000000000000000ff","zone":"PH-LV"}"#)
        );
        assert_eq!(validate_leaf(0, &leaf), Ok(()));
    }

    #[test]
    fn the_fast_encoder_is_canonical_with_and_without_optional_fields() {
        let f = factor();
        let bare = CarbonMintRecord {
            zone: "Z \"q\"",
            slot_start_ms: -5,
            slot_len_ms: 1,
            run_version: 2,
            methodology: "m",
            account: AccountId(1),
            exported_wh: 0,
            reading_range: None,
            factor: &f,
            grams: 0,
            minted_g: -3,
            transfer_id: None,
        };
        let leaf = carbon_mint_leaf(&bare);
        assert_eq!(validate_leaf(0, &leaf), Ok(()));
        assert!(String::from_utf8(leaf)
            .expect("utf8")
            .contains(r#""readings":null,"#));
        assert_eq!(validate_leaf(0, &mint(2_187)), Ok(()));
    }

    #[test]
    fn leaves_with_wrong_grams_spaces_or_unknown_kinds_are_rejected() {
        assert!(validate_leaf(0, &mint(2_188)).is_err());
        let spaced = String::from_utf8(mint(2_187))
            .expect("utf8")
            .replacen(',', ", ", 1);
        assert!(validate_leaf(0, spaced.as_bytes()).is_err());
        assert!(validate_leaf(0, br#"{"format":"sunmesh-leaf/1","kind":"other"}"#).is_err());
        assert!(validate_leaf(0, b"\xff").is_err());
    }
}
