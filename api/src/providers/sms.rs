//! The SMS gateway: a Twilio-compatible REST API
//! (`POST {base}/2010-04-01/Accounts/{sid}/Messages.json`, form-encoded, basic auth), with the
//! account of the number that texts. With no account at all (no SMS number in the workspace and
//! no default sender) it is the sandbox: sends are accepted with a made-up id.

use std::time::Duration;

use base64::Engine;
use domain::{Channel, PhoneNumber};
use hmac::{Hmac, Mac};
use persistence::BusinessNumber;
use persistence::sealed::{Keyring, Purpose};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use subtle::ConstantTimeEq;

use super::{Accepted, GatewayError};
use crate::config::{SmsAccount, SmsConfig};
use crate::traces::SendTraced;

/// Where status callbacks of a send go: `{PARLEY_PUBLIC_URL}/webhooks/sms`.
pub const WEBHOOK_PATH: &str = "/webhooks/sms";

/// The SMS gateway.
#[derive(Clone)]
pub struct SmsGateway {
    client: reqwest::Client,
    api_base: String,
    default_sender: Option<SmsAccount>,
    /// The URL status callbacks are posted to (only with `PARLEY_PUBLIC_URL`: the provider
    /// needs a URL it can reach, and the signature covers it).
    status_callback: Option<String>,
    /// The demo's SMS account: its sends stay in the process.
    sandbox_account: Option<String>,
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGateway").field("api_base", &self.api_base).finish_non_exhaustive()
    }
}

/// Why an SMS number could not be proven to belong to the account that claims it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberProof {
    #[error("the SMS provider refused the accountSid and authToken")]
    NotVisible,
    #[error("the SMS provider does not list this phoneNumber among the account's numbers")]
    NotOwned,
    #[error("the SMS provider could not be reached to check the number; try again")]
    Unreachable,
}

impl SmsGateway {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(config: &SmsConfig, public_url: Option<&str>) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder().timeout(Duration::from_secs(15)).build()?,
            api_base: config.api_base.trim_end_matches('/').to_owned(),
            default_sender: config.default_sender.clone(),
            status_callback: public_url.map(|url| format!("{}{WEBHOOK_PATH}", url.trim_end_matches('/'))),
            sandbox_account: config.sandbox_account.clone(),
        })
    }

    /// Why SMS statuses will not come back, when they will not: without `PARLEY_PUBLIC_URL`
    /// sends carry no `StatusCallback`, so a sent text stays `SENT`.
    #[must_use]
    pub fn status_callback_warning(&self) -> Option<&'static str> {
        self.status_callback.is_none().then_some(
            "PARLEY_PUBLIC_URL is not set: SMS sends carry no StatusCallback, so their statuses stay SENT \
             (set it to the URL at which the SMS provider reaches this server)",
        )
    }

    /// Whether the process has a default sender of its own (not the sandbox).
    #[must_use]
    pub fn has_default_sender(&self) -> bool {
        self.default_sender.is_some()
    }

    /// The demo's SMS account, whose sends stay in the process.
    #[must_use]
    pub fn sandbox_account(&self) -> Option<&str> {
        self.sandbox_account.as_deref()
    }

    /// Whether the account owns `phone`: the provider lists it among the account's numbers
    /// (`GET /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json?PhoneNumber=…`, basic auth).
    ///
    /// # Errors
    /// [`NumberProof`] naming the check that failed.
    pub async fn prove_number(
        &self,
        account_sid: &str,
        auth_token: &str,
        phone: &str,
    ) -> Result<(), NumberProof> {
        let answer = self
            .client
            .get(format!("{}/2010-04-01/Accounts/{account_sid}/IncomingPhoneNumbers.json", self.api_base))
            .query(&[("PhoneNumber", phone)])
            .basic_auth(account_sid, Some(auth_token))
            .send_traced()
            .await
            .map_err(|_| NumberProof::Unreachable)?;
        if !answer.status().is_success() {
            return Err(NumberProof::NotVisible);
        }
        let body: serde_json::Value = answer.json().await.map_err(|_| NumberProof::NotOwned)?;
        let owned = body["incoming_phone_numbers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["phone_number"].as_str() == Some(phone));
        if owned { Ok(()) } else { Err(NumberProof::NotOwned) }
    }

    /// The account a message texts from: the SMS number's own (its sealed token opened), else
    /// the default sender; `None` is the sandbox.
    ///
    /// # Errors
    /// When the number's token does not open.
    pub fn account_of(
        &self,
        number: Option<&BusinessNumber>,
        keyring: &Keyring,
    ) -> Result<Option<SmsAccount>, GatewayError> {
        let Some(number) = number.filter(|n| n.channel == Channel::Sms) else {
            return Ok(self.default_sender.clone());
        };
        let (Some(sid), Some(sealed)) = (&number.sms_account_sid, &number.sms_auth_token_sealed) else {
            return Ok(None);
        };
        let token = keyring.open(Purpose::SmsAuthToken, sealed).map_err(|err| {
            tracing::error!(error = %err, "an SMS number's auth token does not open");
            GatewayError::not_sent("the number's auth token cannot be read")
        })?;
        Ok(Some(SmsAccount {
            account_sid: sid.clone(),
            auth_token: token,
            from: number.phone_number_id.clone(),
        }))
    }

    /// Sends one SMS from `account` (`None`: the sandbox). Status callbacks are asked for when
    /// the sender is a connected number (`with_callback`): they are verified with its token.
    ///
    /// # Errors
    /// The provider's refusal, or a transport failure (retryable).
    pub async fn send(
        &self,
        account: Option<&SmsAccount>,
        with_callback: bool,
        to: &PhoneNumber,
        body: &str,
    ) -> Result<Accepted, GatewayError> {
        let Some(account) = account.filter(|a| Some(&a.account_sid) != self.sandbox_account.as_ref()) else {
            return Ok(Accepted { provider_id: format!("SMSANDBOX{}", uuid::Uuid::new_v4().simple()) });
        };
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.api_base, account.account_sid);
        let mut form = vec![("To", to.as_str()), ("From", account.from.as_str()), ("Body", body)];
        if let Some(callback) = self.status_callback.as_deref().filter(|_| with_callback) {
            form.push(("StatusCallback", callback));
        }
        let response = self
            .client
            .post(url)
            .basic_auth(&account.account_sid, Some(account.auth_token.expose_secret()))
            .form(&form)
            .send_traced()
            .await
            .map_err(|e| GatewayError::transport(&e))?;
        let status = response.status().as_u16();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return match json["sid"].as_str() {
                Some(sid) => Ok(Accepted { provider_id: sid.to_owned() }),
                None => Err(GatewayError::bad_answer("response without a sid")),
            };
        }
        let title = json["message"]
            .as_str()
            .map_or_else(|| format!("SMS provider answered HTTP {status}"), str::to_owned);
        Err(GatewayError::http(status, json["code"].as_i64(), title))
    }
}

/// Twilio's request signature (`X-Twilio-Signature`): base64 HMAC-SHA1, keyed by the auth
/// token, over the URL the provider called followed by every POST parameter's name and value,
/// sorted by name (byte order).
#[must_use]
pub fn signature(auth_token: &SecretString, url: &str, params: &[(String, String)]) -> Option<String> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted
        .sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then_with(|| a.1.as_bytes().cmp(b.1.as_bytes())));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.expose_secret().as_bytes()).ok()?;
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    Some(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `given` is the signature of the request (compared in constant time).
#[must_use]
pub fn signature_matches(
    auth_token: &SecretString,
    url: &str,
    params: &[(String, String)],
    given: &str,
) -> bool {
    signature(auth_token, url, params)
        .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(given.trim().as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's own worked example ("Webhooks security", "Explore the algorithm yourself"), kept
    /// as a fixture: the URL, parameters, token and signature as Twilio publishes them.
    #[test]
    fn twilios_published_example_signs_as_published() {
        let example: Value =
            serde_json::from_str(include_str!("fixtures/twilio_signature_example.json")).unwrap();
        let token = SecretString::from(example["auth_token"].as_str().unwrap().to_owned());
        let url = example["url"].as_str().unwrap();
        let expected = example["signature"].as_str().unwrap();
        // In reverse order: the signer sorts.
        let params: Vec<(String, String)> = example["params"]
            .as_object()
            .unwrap()
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(signature(&token, url, &params).as_deref(), Some(expected));
        assert!(signature_matches(&token, url, &params, expected));
        assert!(!signature_matches(&token, url, &params, "L/OH5YylLD5NRKLltdqwSvS0BnV="));
        assert!(!signature_matches(&token, url, &params, ""));
        assert!(!signature_matches(&token, "https://example.com/myapp.php?foo=1&bar=3", &params, expected));
        let mut tampered = params.clone();
        tampered[0].1 = "+18005551213".into();
        assert!(!signature_matches(&token, url, &tampered, expected));
        let other = SecretString::from("54321".to_owned());
        assert!(!signature_matches(&other, url, &params, expected));
    }
}
