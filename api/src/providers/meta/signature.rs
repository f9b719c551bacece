//! Meta's webhook signature: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body
//! keyed with the app secret, checked in constant time before anything is parsed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `X-Hub-Signature-256` value Meta sends for `body`: `sha256=<hex HMAC-SHA256>`
/// (`parley simulate` signs with it).
#[must_use]
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `X-Hub-Signature-256: sha256=<hex>` over the raw body, in constant time.
#[must_use]
pub fn signature_valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_digest) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    let Ok(expected) = hex::decode(hex_digest) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_over_the_raw_body() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"secret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signature_valid(b"secret", body, Some(&good)));
        assert!(!signature_valid(b"other", body, Some(&good)));
        assert!(!signature_valid(b"secret", b"{}", Some(&good)));
        assert!(!signature_valid(b"secret", body, None));
        assert!(!signature_valid(b"secret", body, Some("sha256=zz")));
        assert!(!signature_valid(b"secret", body, Some(&good.replace("sha256=", "sha1="))));
        assert_eq!(sign(b"secret", body), good);
    }
}
