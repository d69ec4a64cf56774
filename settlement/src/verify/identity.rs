//! Rule 1: the reading is signed by the registered, non-revoked key of the device it names.

use reading::SignedReading;

use super::context::{DeviceContext, KeyStatus};
use super::reasons::RejectReason;

/// `ctx` is the registration the shell found for `signed.reading.device_id` (`None`: not
/// registered). Returns the context when the reading is authentic and the key is usable.
pub fn check_identity<'a>(
    signed: &SignedReading,
    ctx: Option<&'a DeviceContext>,
) -> Result<&'a DeviceContext, RejectReason> {
    let ctx = ctx.ok_or(RejectReason::UnknownDevice)?;
    // A context for another device means the reading's device id is not the one registered
    // under this key: as far as this key is concerned, the device is unknown.
    if ctx.public_key.device_id() != signed.reading.device_id {
        return Err(RejectReason::UnknownDevice);
    }
    signed
        .verify_signature_only(&ctx.public_key)
        .map_err(|_| RejectReason::BadSignature)?;
    // Checked after the signature so we only ever say "revoked" about authentic readings.
    if ctx.status == KeyStatus::Revoked {
        return Err(RejectReason::RevokedDevice);
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_support::{context_for, key, reading_for};

    #[test]
    fn valid_signature_from_the_registered_key() {
        let k = key(1);
        let ctx = context_for(&k);
        let signed = SignedReading::sign(reading_for(&k, 1), &k);
        assert!(check_identity(&signed, Some(&ctx)).is_ok());
    }

    #[test]
    fn unregistered_device() {
        let k = key(1);
        let signed = SignedReading::sign(reading_for(&k, 1), &k);
        assert_eq!(
            check_identity(&signed, None),
            Err(RejectReason::UnknownDevice)
        );
        // A context for a different device is not this device's registration.
        let other = context_for(&key(2));
        assert_eq!(
            check_identity(&signed, Some(&other)),
            Err(RejectReason::UnknownDevice)
        );
    }

    #[test]
    fn tampered_bytes_or_signature() {
        let k = key(1);
        let ctx = context_for(&k);
        let mut signed = SignedReading::sign(reading_for(&k, 1), &k);
        signed.reading.export_wh += 1;
        assert_eq!(
            check_identity(&signed, Some(&ctx)),
            Err(RejectReason::BadSignature)
        );
        let mut signed = SignedReading::sign(reading_for(&k, 1), &k);
        signed.signature[10] ^= 0x01;
        assert_eq!(
            check_identity(&signed, Some(&ctx)),
            Err(RejectReason::BadSignature)
        );
    }

    #[test]
    fn signed_by_another_key() {
        let k = key(1);
        let ctx = context_for(&k);
        // Names device 1 but is signed by key 2.
        let signed = SignedReading::sign(reading_for(&k, 1), &key(2));
        assert_eq!(
            check_identity(&signed, Some(&ctx)),
            Err(RejectReason::BadSignature)
        );
    }

    #[test]
    fn revoked_key() {
        let k = key(1);
        let mut ctx = context_for(&k);
        ctx.status = KeyStatus::Revoked;
        let signed = SignedReading::sign(reading_for(&k, 1), &k);
        assert_eq!(
            check_identity(&signed, Some(&ctx)),
            Err(RejectReason::RevokedDevice)
        );
        ctx.status = KeyStatus::UnderReview;
        assert!(check_identity(&signed, Some(&ctx)).is_ok());
    }
}
