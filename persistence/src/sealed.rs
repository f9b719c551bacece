//! Secrets at rest (PRODUCT.md section 10): CRM endpoint secrets, per-number access tokens, SMS
//! auth tokens and the raw WhatsApp message ids of customers who hid their number are stored
//! encrypted with AES-256-GCM under `PARLEY_SECRET_KEY`.
//!
//! A sealed value is stored as `v1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`. The key id
//! (the first 8 hex digits of the key's SHA-256) says which key sealed it, so a key can be
//! rotated: the new key seals, the previous ones still open, and start-up re-seals everything
//! under the current key ([`reseal_stored`]). What a value is for ([`Purpose`]) is bound in as
//! associated data, so a ciphertext copied into another column does not open.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ConnectionTrait, DeriveValueType, Statement};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::dialect::Dialect;
use crate::error::{DbContext, Error};

/// A value as stored: sealed, never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, DeriveValueType)]
pub struct Sealed(String);

impl Sealed {
    /// The stored text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id of the key that sealed it; `None` for a value that is not sealed (plaintext
    /// written by an earlier version).
    #[must_use]
    pub fn key_id(&self) -> Option<&str> {
        let rest = self.0.strip_prefix("v1:")?;
        rest.split_once(':').map(|(id, _)| id)
    }
}

/// What a sealed value is; bound into the ciphertext as associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// A CRM endpoint's `whsec_` signing secret.
    WebhookSecret,
    /// The raw provider message id of a customer who hid their number.
    MessageId,
    /// A business number's Cloud API access token.
    AccessToken,
    /// An SMS number's auth token.
    SmsAuthToken,
}

impl Purpose {
    const fn label(self) -> &'static [u8] {
        match self {
            Purpose::WebhookSecret => b"parley:webhook-secret",
            Purpose::MessageId => b"parley:message-id",
            Purpose::AccessToken => b"parley:access-token",
            Purpose::SmsAuthToken => b"parley:sms-auth-token",
        }
    }
}

/// A key that is not 32 bytes of base64.
#[derive(Debug, thiserror::Error)]
#[error("must be 32 bytes encoded as base64 (for example the output of `openssl rand -base64 32`)")]
pub struct BadKey;

/// A sealed value that does not open: sealed under a key Parley does not hold, or altered.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("sealed under key {0}, which is not configured")]
    UnknownKey(String),
    #[error("does not open with key {0}: the key is wrong or the value was altered")]
    Corrupt(String),
    #[error("is not a sealed value")]
    NotSealed,
}

/// One AES-256 key, its id, and a signing key derived from it (never the key itself).
#[derive(Clone)]
struct SecretKey {
    id: String,
    cipher: Aes256Gcm,
    signing: [u8; 32],
}

impl SecretKey {
    fn from_bytes(bytes: &[u8]) -> Result<Self, BadKey> {
        let cipher = Aes256Gcm::new_from_slice(bytes).map_err(|_| BadKey)?;
        let id = hex::encode(&Sha256::digest(bytes)[..4]);
        let mut derivation = Sha256::new();
        derivation.update(b"parley:signing-key:");
        derivation.update(bytes);
        Ok(Self { id, cipher, signing: derivation.finalize().into() })
    }

    fn from_base64(text: &str) -> Result<Self, BadKey> {
        let bytes = zeroize_on_drop(STANDARD.decode(text.trim()).map_err(|_| BadKey)?);
        if bytes.0.len() != 32 {
            return Err(BadKey);
        }
        Self::from_bytes(&bytes.0)
    }
}

/// Bytes wiped when dropped (key material read from configuration).
struct Wiped(Vec<u8>);

fn zeroize_on_drop(bytes: Vec<u8>) -> Wiped {
    Wiped(bytes)
}

impl Drop for Wiped {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
    }
}

/// The current key (seals and opens) and any previous ones (open only, during a rotation).
#[derive(Clone)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let previous: Vec<&str> = self.previous.iter().map(|k| k.id.as_str()).collect();
        f.debug_struct("Keyring").field("current", &self.current.id).field("previous", &previous).finish()
    }
}

impl Keyring {
    /// A keyring from the base64 key and the previous keys (comma-separated base64).
    ///
    /// # Errors
    /// When a key is not 32 bytes of base64.
    pub fn from_config(current: &SecretString, previous: Option<&SecretString>) -> Result<Self, BadKey> {
        let current = SecretKey::from_base64(current.expose_secret())?;
        let previous = match previous {
            Some(list) => list
                .expose_secret()
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(SecretKey::from_base64)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        Ok(Self { current, previous })
    }

    /// A fresh random key (tests, embedding, the demo) and its base64 form.
    #[must_use]
    pub fn generate() -> (Self, SecretString) {
        let bytes = zeroize_on_drop(rand::random::<[u8; 32]>().to_vec());
        let text = SecretString::from(STANDARD.encode(&bytes.0));
        let current = match SecretKey::from_bytes(&bytes.0) {
            Ok(key) => key,
            Err(BadKey) => unreachable!("32 random bytes are a valid AES-256 key"),
        };
        (Self { current, previous: Vec::new() }, text)
    }

    /// A key for signing short-lived links (media downloads), derived from the current key: it
    /// changes when the key is rotated, which only ends links already handed out.
    #[must_use]
    pub fn signing_key(&self) -> &[u8; 32] {
        &self.current.signing
    }

    /// The id of the current key.
    #[must_use]
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seals `plaintext` for `purpose` under the current key.
    #[must_use]
    pub fn seal(&self, purpose: Purpose, plaintext: &str) -> Sealed {
        let nonce_bytes = rand::random::<[u8; 12]>();
        let nonce = Nonce::from(nonce_bytes);
        let payload = Payload { msg: plaintext.as_bytes(), aad: purpose.label() };
        let Ok(ciphertext) = self.current.cipher.encrypt(&nonce, payload) else {
            unreachable!("AES-GCM refuses only inputs over 64 GiB");
        };
        let mut out = Vec::with_capacity(12 + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        Sealed(format!("v1:{}:{}", self.current.id, STANDARD.encode(out)))
    }

    /// Opens a sealed value.
    ///
    /// # Errors
    /// [`OpenError`] when no configured key sealed it, or it does not open.
    pub fn open(&self, purpose: Purpose, sealed: &Sealed) -> Result<SecretString, OpenError> {
        let rest = sealed.0.strip_prefix("v1:").ok_or(OpenError::NotSealed)?;
        let (id, body) = rest.split_once(':').ok_or(OpenError::NotSealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
            .ok_or_else(|| OpenError::UnknownKey(id.to_owned()))?;
        let corrupt = || OpenError::Corrupt(id.to_owned());
        let bytes = STANDARD.decode(body).map_err(|_| corrupt())?;
        if bytes.len() < 12 + 16 {
            return Err(corrupt());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| corrupt())?;
        let plain = key
            .cipher
            .decrypt(&nonce, Payload { msg: ciphertext, aad: purpose.label() })
            .map_err(|_| corrupt())?;
        let text = String::from_utf8(plain).map_err(|_| corrupt())?;
        Ok(SecretString::from(text))
    }
}

/// Every column holding sealed values: (table, column, purpose).
const SEALED_COLUMNS: &[(&str, &str, Purpose)] = &[
    ("webhook_endpoints", "secret", Purpose::WebhookSecret),
    ("webhook_endpoints", "previous_secret", Purpose::WebhookSecret),
    ("messages", "external_id_sealed", Purpose::MessageId),
    ("business_numbers", "access_token_sealed", Purpose::AccessToken),
    ("business_numbers", "sms_auth_token_sealed", Purpose::SmsAuthToken),
];

/// What start-up found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resealed {
    /// Plaintext values of earlier versions, sealed now.
    pub sealed_plaintext: usize,
    /// Values sealed under a previous key, sealed again under the current one.
    pub rotated: usize,
}

/// Why start-up refuses the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheck {
    #[error(
        "the stored secrets were sealed under key {0}, which is neither PARLEY_SECRET_KEY nor one of PARLEY_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    #[error("the stored secrets do not open with key {0}: the key is wrong")]
    WrongKey(String),
    #[error(transparent)]
    Storage(#[from] Error),
}

/// Checks that the keyring opens what is stored, seals plaintext secrets left by earlier
/// versions, and re-seals values sealed under a previous key. Run at start-up, before serving.
///
/// # Errors
/// [`KeyCheck`] when a stored value was sealed under a key the keyring lacks, or does not open
/// with the key its id names (a wrong key): such a batch is left unchanged.
pub async fn reseal_stored(db: &impl ConnectionTrait, keyring: &Keyring) -> Result<Resealed, KeyCheck> {
    let dialect = Dialect::of(db);
    let current = format!("v1:{}:%", keyring.current.id);
    let mut done = Resealed::default();
    for (table, column, purpose) in SEALED_COLUMNS {
        // A value under the current key must open: else the key is wrong.
        let probe = format!(
            "SELECT {column} AS v FROM {table} WHERE {column} LIKE {} LIMIT 1",
            dialect.placeholder(1)
        );
        let found = db
            .query_one_raw(Statement::from_sql_and_values(dialect.backend(), probe, [current.clone().into()]))
            .await
            .context("failed to read sealed values")?;
        if let Some(row) = found {
            let value = Sealed(row.try_get::<String>("", "v").context("failed to read a sealed value")?);
            keyring.open(*purpose, &value).map_err(|_| KeyCheck::WrongKey(keyring.current.id.clone()))?;
        }
        // Everything else, a batch at a time: plaintext is sealed, older keys' values re-sealed.
        let select = format!(
            "SELECT id, {column} AS v FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE {} LIMIT 500",
            dialect.placeholder(1)
        );
        let update = format!(
            "UPDATE {table} SET {column} = {} WHERE id = {}",
            dialect.placeholder(1),
            dialect.placeholder(2)
        );
        loop {
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    dialect.backend(),
                    select.clone(),
                    [current.clone().into()],
                ))
                .await
                .context("failed to read values to seal")?;
            if rows.is_empty() {
                break;
            }
            let mut batch = Vec::with_capacity(rows.len());
            for row in rows {
                let id: uuid::Uuid = row.try_get("", "id").context("failed to read an id")?;
                let stored = Sealed(row.try_get::<String>("", "v").context("failed to read a sealed value")?);
                let plain = match stored.key_id() {
                    None => {
                        done.sealed_plaintext += 1;
                        SecretString::from(stored.0.clone())
                    }
                    Some(_) => {
                        done.rotated += 1;
                        keyring.open(*purpose, &stored).map_err(|err| match err {
                            OpenError::UnknownKey(id) => KeyCheck::UnknownKey(id),
                            OpenError::Corrupt(id) => KeyCheck::WrongKey(id),
                            OpenError::NotSealed => KeyCheck::WrongKey(String::new()),
                        })?
                    }
                };
                batch.push((id, keyring.seal(*purpose, plain.expose_secret())));
            }
            for (id, sealed) in batch {
                db.execute_raw(Statement::from_sql_and_values(
                    dialect.backend(),
                    update.clone(),
                    [sealed.0.into(), id.into()],
                ))
                .await
                .context("failed to seal a stored value")?;
            }
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let (keyring, _) = Keyring::generate();
        let sealed = keyring.seal(Purpose::WebhookSecret, "whsec_abc");
        assert!(sealed.as_str().starts_with(&format!("v1:{}:", keyring.current_id())));
        assert!(!sealed.as_str().contains("whsec_abc"));
        assert_eq!(keyring.open(Purpose::WebhookSecret, &sealed).unwrap().expose_secret(), "whsec_abc");
        assert_ne!(keyring.seal(Purpose::WebhookSecret, "whsec_abc"), sealed, "a fresh nonce each time");
        assert!(matches!(keyring.open(Purpose::MessageId, &sealed), Err(OpenError::Corrupt(_))));
        let (other, _) = Keyring::generate();
        assert!(matches!(other.open(Purpose::WebhookSecret, &sealed), Err(OpenError::UnknownKey(_))));
        let mut tampered = sealed.0.clone();
        tampered.pop();
        tampered.push(if sealed.0.ends_with('A') { 'B' } else { 'A' });
        assert!(keyring.open(Purpose::WebhookSecret, &Sealed(tampered)).is_err());
        assert!(matches!(
            keyring.open(Purpose::WebhookSecret, &Sealed("whsec_x".into())),
            Err(OpenError::NotSealed)
        ));
    }

    #[test]
    fn a_rotated_keyring_opens_what_the_previous_key_sealed() {
        let (old, old_text) = Keyring::generate();
        let sealed = old.seal(Purpose::AccessToken, "EAAG…");
        let (_, new_text) = Keyring::generate();
        let rotated = Keyring::from_config(&new_text, Some(&old_text)).unwrap();
        assert_eq!(rotated.open(Purpose::AccessToken, &sealed).unwrap().expose_secret(), "EAAG…");
        assert_ne!(rotated.current_id(), old.current_id());
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(Keyring::from_config(&SecretString::from("short".to_owned()), None).is_err());
        assert!(Keyring::from_config(&SecretString::from(STANDARD.encode([0u8; 16])), None).is_err());
        assert!(Keyring::from_config(&SecretString::from(STANDARD.encode([7u8; 32])), None).is_ok());
    }
}
