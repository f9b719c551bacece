//! The delivery worker: sends `PENDING` outbound messages through the gateways, with retries
//! and exponential backoff on 5xx, timeouts and rate limits, and records the result (the
//! provider's id, so status webhooks find the message, or the provider's error).
//!
//! Messages are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several
//! `parley serve` processes never send the same message concurrently. A sender that crashes
//! mid-send leaves the lease to expire and the message is tried again: delivery is
//! at-least-once towards the provider.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{Channel, MessageStatus};
use persistence::content::MessageContent;
use persistence::entities::{conversation, message};
use persistence::messages::{ProviderError, SendResult};
use persistence::{Database, business_numbers, contacts, conversations, messages};
use tokio::sync::Notify;

use crate::config::RetryPolicy;
use crate::outbound::gateway::sms::SmsGateway;
use crate::outbound::gateway::whatsapp::WhatsappGateway;
use crate::outbound::gateway::{Accepted, GatewayError, Recipient};
use persistence::messages::StoredId;
use persistence::sealed::Keyring;

/// Wakes the worker when a send is stored.
#[derive(Clone, Debug, Default)]
pub struct DeliveryHandle(Arc<Notify>);

impl DeliveryHandle {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The worker.
#[derive(Clone, Debug)]
pub struct Worker {
    pub db: Database,
    pub whatsapp: WhatsappGateway,
    pub sms: SmsGateway,
    pub policy: RetryPolicy,
    pub handle: DeliveryHandle,
    /// Seals the provider's id of a message to a customer who hid the number.
    pub keyring: Arc<Keyring>,
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

impl Worker {
    /// Runs until `stop` flips to true; finishes the batch in hand first.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let worked = match self.run_once(Utc::now()).await {
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(error = ?err, "delivery pass failed");
                    0
                }
            };
            if worked == 0 {
                tokio::select! {
                    () = self.handle.0.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Claims and sends what is due; returns how many messages it handled.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
        let txn = self.db.begin().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        let claimed = messages::claim_due(&*txn, now, now + to_chrono(self.policy.lease), 16).await?;
        txn.commit().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        let count = claimed.len();
        let sends = claimed.into_iter().map(|m| self.deliver(m));
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(count)
    }

    async fn deliver(&self, message: message::Model) -> Result<(), persistence::Error> {
        let conversation = conversations::find(self.db.conn(), message.workspace_id, message.conversation_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
        let result = match message.channel {
            Channel::Sms => self.send_sms(&message, &conversation).await?,
            Channel::Whatsapp => self.send_whatsapp(&message, &conversation).await?,
        };
        self.record(message, &conversation, result).await
    }

    async fn send_whatsapp(
        &self,
        message: &message::Model,
        conversation: &conversation::Model,
    ) -> Result<Result<Accepted, GatewayError>, persistence::Error> {
        let number = business_numbers::find(self.db.conn(), message.workspace_id, message.business_number_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "business number" })?;
        let recipient = match (&conversation.customer_phone, &conversation.customer_bsuid) {
            (Some(phone), _) => Some(Recipient::Phone(phone.clone())),
            (None, Some(bsuid)) => Some(Recipient::Bsuid(bsuid.clone())),
            (None, None) => None,
        };
        let content = message.content.as_ref().and_then(MessageContent::outbound);
        let (Some(recipient), Some(content)) = (recipient, content) else {
            return Ok(Err(GatewayError {
                retryable: false,
                code: None,
                title: "nothing to send or no one to send it to".into(),
            }));
        };
        Ok(self.whatsapp.send(&number.phone_number_id, &recipient, content).await)
    }

    async fn send_sms(
        &self,
        message: &message::Model,
        conversation: &conversation::Model,
    ) -> Result<Result<Accepted, GatewayError>, persistence::Error> {
        let contact_phone = match conversation.contact_id {
            Some(c) => contacts::find(self.db.conn(), message.workspace_id, c).await?.and_then(|c| c.phone),
            None => None,
        };
        let Some(phone) = conversation.customer_phone.clone().or(contact_phone) else {
            return Ok(Err(GatewayError {
                retryable: false,
                code: None,
                title: "no phone number to text".into(),
            }));
        };
        Ok(self.sms.send(&phone, message.text.as_deref().unwrap_or_default()).await)
    }

    async fn record(
        &self,
        message: message::Model,
        conversation: &conversation::Model,
        result: Result<Accepted, GatewayError>,
    ) -> Result<(), persistence::Error> {
        let now = Utc::now();
        let _workspace = message.workspace_id;
        let attempts = message.attempts;
        let provider_error =
            |err: &GatewayError| ProviderError { code: err.code, title: Some(err.title.clone()) };
        let (result, status) = match result {
            Ok(accepted) => {
                metrics::counter!("parley_outbound_sends_total", "outcome" => "sent").increment(1);
                let id =
                    StoredId::of(&accepted.provider_id, conversation.customer_phone.is_some(), &self.keyring);
                (SendResult::Sent { id }, Some(MessageStatus::Sent))
            }
            Err(err) if err.retryable && attempts < self.policy.max_attempts => {
                tracing::info!(attempts, code = ?err.code, "send failed; will retry");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "retry").increment(1);
                let retry_at = now + to_chrono(self.policy.backoff(attempts));
                (SendResult::Retry { error: provider_error(&err), retry_at }, None)
            }
            Err(err) => {
                tracing::warn!(attempts, code = ?err.code, "send failed for good");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "failed").increment(1);
                (SendResult::Failed { error: provider_error(&err) }, Some(MessageStatus::Failed))
            }
        };
        let txn = self.db.begin().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        let saved = messages::record_send(&*txn, message, result, now).await?;
        if let Some(status) = status {
            let previous = MessageStatus::Pending;
            crate::events::message_status_updated(&*txn, &saved, conversation, previous, now).await?;
            tracing::debug!(status = %status, "outbound message recorded");
        }
        txn.commit().await.map_err(|e| persistence::Error::Unexpected(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            base: Duration::from_secs(2),
            max: Duration::from_secs(60),
            max_attempts: 8,
            lease: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=7).map(|a| p.backoff(a).as_secs()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
    }
}
