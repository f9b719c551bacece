//! The CRM webhook dispatcher: turns committed events into signed POSTs to each endpoint.
//!
//! - **At least once, in order.** Each endpoint gets a delivery row per event it wants; the
//!   dispatcher sends an endpoint's deliveries strictly in cursor order (the head of line
//!   must succeed, or fail for good, before the next is sent).
//! - **Standard Webhooks.** `webhook-id` (the event id, stable across retries so receivers
//!   can deduplicate), `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256 of
//!   id.timestamp.body>` keyed with the base64 part of the `whsec_` secret.
//! - **Retries.** Non-2xx and timeouts back off exponentially with jitter for the retry window
//!   (24 hours by default), then the delivery is marked FAILED and kept for redelivery.
//! - **Isolation.** Sends run concurrently with a timeout, so a hanging endpoint delays only
//!   itself; an endpoint failing many times in a row is paused until an admin resumes it.
//! - **Several processes.** Endpoints are claimed with a lease (`FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL), so one endpoint is sent to by one process at a time and no delivery is sent
//!   twice concurrently.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use persistence::crm::{self, AttemptResult, Claimed};
use persistence::sealed::{Keyring, Purpose};
use persistence::{Database, Work};
use rand::Rng;
use secrecy::ExposeSecret;
use sha2::Sha256;

use crate::config::DispatchConfig;
use crate::crm::guard::{GuardedResolver, PrivateTarget, host_is_private};
use crate::traces::SendTraced;
use crate::workers::Next;

/// Whether a send failed because the guard refused what the host resolved to.
fn is_private_target(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if cause.is::<PrivateTarget>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// The Standard Webhooks signature header value.
///
/// # Errors
/// When the secret is not `whsec_<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap_or(secret))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The dispatcher.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    pub db: Database,
    pub client: reqwest::Client,
    pub config: DispatchConfig,
    /// Opens the endpoints' sealed secrets.
    pub keyring: Arc<Keyring>,
}

enum Outcome {
    Delivered(u16),
    Failed { status: Option<u16>, error: String, permanent: bool },
}

/// The content type of a CloudEvent sent whole in the body (the HTTP binding's structured
/// mode), as CloudEvents SDKs recognise it.
pub const STRUCTURED_MODE: &str = "application/cloudevents+json; charset=utf-8";

impl crate::workers::Worker for Dispatcher {
    const NAME: &'static str = "crm";
    const WAKES: &'static [Work] = &[Work::Events, Work::Crm];

    /// Enqueues and sends what is due, when something is (one read when nothing is).
    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let due = crm::next_due(self.db.conn()).await?;
        crate::workers::when_due(due, now, || self.run_once(now)).await
    }
}

impl Dispatcher {
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(db: Database, config: DispatchConfig, keyring: Keyring) -> anyhow::Result<Self> {
        let mut client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if !config.allow_private_targets {
            client = client.dns_resolver(Arc::new(GuardedResolver::new(Arc::clone(&config.lookup))));
        }
        let client = client.build()?;
        Ok(Self { db, client, config, keyring: Arc::new(keyring) })
    }

    /// Enqueues new events, then sends every due head-of-line delivery; returns how many
    /// endpoints it enqueued for plus how many deliveries it attempted.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
        let lease = now
            + chrono::Duration::from_std(self.config.timeout * 3).unwrap_or(chrono::Duration::seconds(30));
        let (advanced, claimed) = self
            .db
            .write(async |txn| {
                let advanced = crm::enqueue(txn, now, 500).await?;
                Ok::<_, persistence::Error>((advanced, crm::claim_heads(txn, now, lease, 32).await?))
            })
            .await?;
        let count = advanced + claimed.len();
        // Each send runs on its own: a slow or hanging endpoint holds only its own lease, and the
        // next pass goes on with every other endpoint.
        for c in claimed {
            let dispatcher = self.clone();
            tokio::spawn(async move {
                let outcome = dispatcher.send(&c).await;
                if let Err(err) = dispatcher.record(c, outcome).await {
                    tracing::warn!(error = ?err, "could not record a webhook delivery; its lease will expire and it is retried");
                }
            });
        }
        Ok(count)
    }

    /// A literal address in the URL is checked here (names are checked by the client's
    /// resolver, once per connection).
    fn target_allowed(&self, url: &reqwest::Url) -> Result<(), String> {
        let host = url.host().ok_or("no host")?;
        if !self.config.allow_private_targets && host_is_private(&host) {
            return Err(format!(
                "the endpoint targets a private or loopback address (allowed only with {}=true)",
                crate::crm::guard::ALLOW_SETTING
            ));
        }
        Ok(())
    }

    async fn send(&self, claimed: &Claimed) -> Outcome {
        let url = match reqwest::Url::parse(&claimed.endpoint.url) {
            Ok(url) => url,
            Err(e) => {
                return Outcome::Failed { status: None, error: format!("bad url: {e}"), permanent: true };
            }
        };
        if let Err(error) = self.target_allowed(&url) {
            return Outcome::Failed { status: None, error, permanent: true };
        }
        let body = claimed.event.payload.to_string().into_bytes();
        let id = claimed.event.id.to_string();
        let now = Utc::now();
        let signature = match self.signatures(&claimed.endpoint, &id, now, &body) {
            Ok(s) => s,
            Err(e) => {
                return Outcome::Failed { status: None, error: format!("cannot sign: {e}"), permanent: true };
            }
        };
        let timestamp = now.timestamp();
        let response = self
            .client
            .post(url)
            // The CloudEvents HTTP binding's structured mode: the whole event is the body.
            .header("content-type", STRUCTURED_MODE)
            .header("user-agent", "Parley-Webhooks/1")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send_traced()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Outcome::Delivered(r.status().as_u16()),
            Ok(r) => Outcome::Failed {
                status: Some(r.status().as_u16()),
                error: format!("HTTP {}", r.status()),
                permanent: false,
            },
            Err(e) => {
                if is_private_target(&e) {
                    let error = PrivateTarget.to_string();
                    return Outcome::Failed { status: None, error, permanent: true };
                }
                let error =
                    if e.is_timeout() { "timed out".to_owned() } else { "connection failed".to_owned() };
                Outcome::Failed { status: None, error, permanent: false }
            }
        }
    }

    /// The `webhook-signature` value: the current secret's signature, and the previous one's
    /// while a rotation overlaps (space-separated, as Standard Webhooks allows).
    fn signatures(
        &self,
        endpoint: &persistence::crm::Endpoint,
        id: &str,
        now: DateTime<Utc>,
        body: &[u8],
    ) -> anyhow::Result<String> {
        let current = self.keyring.open(Purpose::WebhookSecret, &endpoint.secret)?;
        let mut header = sign(current.expose_secret(), id, now.timestamp(), body)?;
        if let (Some(previous), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_until)
            && now < until
        {
            let previous = self.keyring.open(Purpose::WebhookSecret, previous)?;
            header.push(' ');
            header.push_str(&sign(previous.expose_secret(), id, now.timestamp(), body)?);
        }
        Ok(header)
    }

    fn backoff(&self, attempts: i32) -> chrono::Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        let base =
            self.config.retry_base.saturating_mul(2u32.saturating_pow(exponent)).min(self.config.retry_max);
        let jitter = rand::rng().random_range(0.5..1.0);
        chrono::Duration::from_std(base.mul_f64(jitter)).unwrap_or(chrono::Duration::seconds(60))
    }

    async fn record(&self, claimed: Claimed, outcome: Outcome) -> Result<(), persistence::Error> {
        let now = Utc::now();
        let attempts = claimed.delivery.attempts;
        let first_try = claimed.delivery.created_at;
        let label = match &outcome {
            Outcome::Delivered(_) => "delivered",
            Outcome::Failed { permanent: true, .. } => "refused",
            Outcome::Failed { .. } => "failed",
        };
        metrics::counter!("parley_crm_deliveries_total", "outcome" => label).increment(1);
        let result = match outcome {
            Outcome::Delivered(code) => AttemptResult::Delivered { status_code: i32::from(code) },
            Outcome::Failed { status: code, error, permanent } => {
                let window =
                    chrono::Duration::from_std(self.config.retry_window).unwrap_or(chrono::Duration::days(1));
                let give_up = permanent || now - first_try >= window;
                let retry_at = (!give_up).then(|| now + self.backoff(attempts));
                AttemptResult::Failed { status_code: code.map(i32::from), error, retry_at }
            }
        };
        let pause_after = self.config.pause_after;
        let endpoint = self
            .db
            .write(async |txn| crm::record_attempt(txn, claimed, result, pause_after, now).await)
            .await?;
        if endpoint.paused_at == Some(now) {
            tracing::warn!(
                endpoint_id = %endpoint.id,
                failures = endpoint.consecutive_failures,
                "webhook endpoint paused after repeated failures"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
