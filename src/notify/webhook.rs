//! Standard Webhooks 1.0 signing (reference §3.1): `webhook-id`, `webhook-timestamp` (Unix
//! seconds) and `webhook-signature: v1,<base64 HMAC-SHA256>` over `<id>.<timestamp>.<body>`, the
//! key being the base64-decoded part of a `whsec_<base64>` secret. The id stays the same on every
//! retry of one event; the timestamp and signature are made afresh for each attempt.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::net::Stamp;

/// The signing key of a `whsec_<base64>` secret (the prefix may be left out); `Err` names the
/// env var, never the value.
pub fn key(secret: &str, env: &str) -> Result<Vec<u8>, String> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    match STANDARD.decode(encoded) {
        Ok(key) if !key.is_empty() => Ok(key),
        _ => Err(format!(
            "{env} does not hold a Standard Webhooks secret: set it to `whsec_` followed by base64 (24 to 64 random bytes)"
        )),
    }
}

/// `v1,<base64>`: the signature of `body` sent as event `id` at `timestamp`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The three headers of one attempt at sending event `id`, signed at the current time.
pub fn signer(key: Vec<u8>, id: String) -> Stamp {
    Arc::new(move |body| {
        let timestamp = chrono::Utc::now().timestamp();
        vec![
            ("webhook-id".into(), id.clone()),
            ("webhook-timestamp".into(), timestamp.to_string()),
            (
                "webhook-signature".into(),
                signature(&key, &id, timestamp, body),
            ),
        ]
    })
}

/// A new event id: `msg_` and 26 random letters and digits.
pub fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    let tail: String = (0..26)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("msg_{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_test_vector() {
        let key = key("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "HOOK").unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn a_bad_secret_names_the_variable_not_the_value() {
        let e = key("whsec_not base64!", "HOOK_SECRET").unwrap_err();
        assert!(
            e.contains("HOOK_SECRET") && !e.contains("not base64"),
            "{e}"
        );
    }

    #[test]
    fn every_attempt_is_signed_afresh_with_the_same_id() {
        let sign = signer(b"key".to_vec(), "msg_1".into());
        let headers = sign(b"{}");
        assert_eq!(headers[0], ("webhook-id".into(), "msg_1".into()));
        let timestamp: i64 = headers[1].1.parse().unwrap();
        assert_eq!(headers[2].1, signature(b"key", "msg_1", timestamp, b"{}"));
        assert!(new_id().starts_with("msg_") && new_id() != new_id());
    }
}
