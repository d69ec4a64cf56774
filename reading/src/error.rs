use thiserror::Error;

/// Everything that can be wrong with a reading's bytes, JSON, key or signature.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReadingError {
    #[error("reading is {actual} bytes long, expected exactly {expected}: truncated or has trailing bytes")]
    WrongLength { expected: usize, actual: usize },
    #[error("reading format version {0} is not supported (this build understands version 1)")]
    UnsupportedVersion(u8),
    #[error("device status byte {0} is not a known status (0 ok, 1 standby, 2 fault, 3 off)")]
    UnknownStatus(u8),
    #[error("{what} must be {expected} hex characters, got {actual}")]
    HexLength {
        what: &'static str,
        expected: usize,
        actual: usize,
    },
    #[error("{what} is not valid hexadecimal: {detail}")]
    BadHex { what: &'static str, detail: String },
    #[error("signature is not valid base64 of 64 bytes: {0}")]
    BadSignatureEncoding(String),
    #[error("public key must be 32 bytes, got {0}")]
    PublicKeyLength(usize),
    #[error("private key rejected: {0}")]
    BadPrivateKey(&'static str),
    #[error("signature does not verify for this device's public key")]
    BadSignature,
    #[error("reading names device {reading} but the key belongs to device {key}")]
    DeviceMismatch {
        reading: DeviceIdText,
        key: DeviceIdText,
    },
    #[error("reading JSON is malformed: {0}")]
    Json(String),
}

/// A device id rendered for an error message (keeps the error `Clone + Eq` without
/// depending on the id type's internals).
pub type DeviceIdText = String;
