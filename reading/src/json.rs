//! The JSON form of a signed reading: the same fields as the canonical bytes plus the
//! signature in base64. It is parsed strictly (unknown fields, wrong types, a missing field or
//! an unknown version are errors) so that the JSON and the bytes can never say different things.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{
    ChainHash, DeviceId, DeviceStatus, Reading, ReadingError, SignedReading, FORMAT_VERSION,
    SIGNATURE_LEN,
};

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonForm {
    version: u8,
    device_id: DeviceId,
    sequence: u64,
    timestamp_ms: i64,
    interval_ms: u32,
    export_wh: u64,
    import_wh: u64,
    power_w: i32,
    status: DeviceStatus,
    prev_hash: String,
    signature: String,
}

impl From<&SignedReading> for JsonForm {
    fn from(signed: &SignedReading) -> Self {
        let r = &signed.reading;
        Self {
            version: FORMAT_VERSION,
            device_id: r.device_id,
            sequence: r.sequence,
            timestamp_ms: r.timestamp_ms,
            interval_ms: r.interval_ms,
            export_wh: r.export_wh,
            import_wh: r.import_wh,
            power_w: r.power_w,
            status: r.status,
            prev_hash: r.prev_hash.to_hex(),
            signature: BASE64.encode(signed.signature),
        }
    }
}

impl TryFrom<JsonForm> for SignedReading {
    type Error = ReadingError;

    fn try_from(form: JsonForm) -> Result<Self, Self::Error> {
        if form.version != FORMAT_VERSION {
            return Err(ReadingError::UnsupportedVersion(form.version));
        }
        let decoded = BASE64
            .decode(form.signature.as_bytes())
            .map_err(|e| ReadingError::BadSignatureEncoding(e.to_string()))?;
        let signature: [u8; SIGNATURE_LEN] = decoded.as_slice().try_into().map_err(|_| {
            ReadingError::BadSignatureEncoding(format!("decodes to {} bytes", decoded.len()))
        })?;
        Ok(Self {
            reading: Reading {
                device_id: form.device_id,
                sequence: form.sequence,
                timestamp_ms: form.timestamp_ms,
                interval_ms: form.interval_ms,
                export_wh: form.export_wh,
                import_wh: form.import_wh,
                power_w: form.power_w,
                status: form.status,
                prev_hash: ChainHash::from_hex(&form.prev_hash)?,
            },
            signature,
        })
    }
}

impl Serialize for SignedReading {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        JsonForm::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SignedReading {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let form = JsonForm::deserialize(deserializer)?;
        SignedReading::try_from(form).map_err(serde::de::Error::custom)
    }
}

impl SignedReading {
    pub fn to_json(&self) -> String {
        // Serialising plain integers and strings into a String cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("JSON form is infallible"))
    }

    pub fn from_json(text: &str) -> Result<Self, ReadingError> {
        serde_json::from_str(text).map_err(|e| ReadingError::Json(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SigningKey;

    fn signed() -> SignedReading {
        let key = SigningKey::from_seed(&[3u8; 32]).unwrap();
        SignedReading::sign(
            Reading {
                device_id: key.device_id(),
                sequence: 5,
                timestamp_ms: 1_767_225_600_000,
                interval_ms: 60_000,
                export_wh: 5_000,
                import_wh: 12,
                power_w: 1_500,
                status: DeviceStatus::Ok,
                prev_hash: ChainHash::from_bytes([4u8; 32]),
            },
            &key,
        )
    }

    #[test]
    fn json_round_trip() {
        let signed = signed();
        assert_eq!(SignedReading::from_json(&signed.to_json()), Ok(signed));
    }

    #[test]
    fn json_rejects_malformed_forms() {
        let json = signed().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        let with = |field: &str, v: serde_json::Value| {
            let mut changed = value.clone();
            changed[field] = v;
            changed.to_string()
        };
        for bad in [
            with("version", 2.into()),
            with("device_id", "abc".into()),
            with("prev_hash", "00".into()),
            with("signature", "!!!".into()),
            with("signature", BASE64.encode([0u8; 63]).into()),
            with("status", "sleeping".into()),
            with("sequence", (-1).into()),
            with("power_w", "1500".into()),
            with("extra", 1.into()),
            "{".to_string(),
            String::new(),
        ] {
            assert!(SignedReading::from_json(&bad).is_err(), "accepted {bad}");
        }
        let mut missing = value.clone();
        missing.as_object_mut().unwrap().remove("import_wh");
        assert!(SignedReading::from_json(&missing.to_string()).is_err());
    }
}
