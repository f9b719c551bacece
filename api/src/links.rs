//! Signed media links: `Attachment.url` is `/media/{id}?exp=…&sig=…`, a link an `<img src>` can
//! use without a bearer token, valid for a short time (15 minutes by default). The signature is
//! HMAC-SHA256 over `id.exp` under a key derived from `PARLEY_SECRET_KEY`, compared in constant
//! time; a link names no workspace, so it must be unforgeable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::AttachmentId;
use hmac::{Hmac, Mac};
use persistence::sealed::Keyring;
use sha2::Sha256;

/// How links are made: how long they work, and the public URL that makes them absolute.
#[derive(Clone, Debug)]
pub struct MediaLinks {
    pub ttl: std::time::Duration,
    pub public_url: Option<String>,
}

impl MediaLinks {
    /// An attachment's signed download link, valid for `ttl` from `now`.
    #[must_use]
    pub fn url(&self, keyring: &Keyring, id: AttachmentId, now: DateTime<Utc>) -> String {
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(15));
        let path = media_path(keyring, id, now + ttl);
        match &self.public_url {
            Some(base) => format!("{base}{path}"),
            None => path,
        }
    }
}

fn mac(keyring: &Keyring, id: AttachmentId, exp: i64) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(keyring.signing_key()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 accepts a 32-byte key"),
    };
    mac.update(format!("media:{id}.{exp}").as_bytes());
    mac
}

/// The signed path of an attachment's download, valid until `expires`.
#[must_use]
pub fn media_path(keyring: &Keyring, id: AttachmentId, expires: DateTime<Utc>) -> String {
    let exp = expires.timestamp();
    let sig = URL_SAFE_NO_PAD.encode(mac(keyring, id, exp).finalize().into_bytes());
    format!("/media/{id}?exp={exp}&sig={sig}")
}

/// Whether `sig` signs `id` until `exp`, and `exp` has not passed.
#[must_use]
pub fn media_link_valid(
    keyring: &Keyring,
    id: AttachmentId,
    exp: i64,
    sig: &str,
    now: DateTime<Utc>,
) -> bool {
    if exp <= now.timestamp() {
        return false;
    }
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig.trim()) else { return false };
    mac(keyring, id, exp).verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> (i64, String) {
        let query = path.split_once('?').unwrap().1;
        let mut exp = 0;
        let mut sig = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("exp", v) => exp = v.parse().unwrap(),
                ("sig", v) => sig = v.to_owned(),
                _ => {}
            }
        }
        (exp, sig)
    }

    #[test]
    fn links_are_valid_until_they_expire_and_only_for_their_attachment() {
        let (keyring, _) = Keyring::generate();
        let id = AttachmentId::new();
        let now = Utc::now();
        let path = media_path(&keyring, id, now + chrono::Duration::minutes(15));
        assert!(path.starts_with(&format!("/media/{id}?exp=")));
        let (exp, sig) = parts(&path);
        assert!(media_link_valid(&keyring, id, exp, &sig, now));
        assert!(!media_link_valid(&keyring, id, exp, &sig, now + chrono::Duration::minutes(16)), "expired");
        assert!(!media_link_valid(&keyring, AttachmentId::new(), exp, &sig, now), "another attachment");
        assert!(!media_link_valid(&keyring, id, exp + 3600, &sig, now), "a longer life");
        assert!(!media_link_valid(&Keyring::generate().0, id, exp, &sig, now), "another server key");
        assert!(!media_link_valid(&keyring, id, exp, "garbage!", now));
    }
}
