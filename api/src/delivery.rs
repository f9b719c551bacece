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
use domain::{Bsuid, Channel, ContactId, ConversationId, MessageStatus, PhoneNumber, WorkspaceId};
use persistence::entities::message;
use persistence::events::{self, NewEvent, types};
use persistence::{Database, StoreError, business_numbers, contacts, conversations, messages};
use sea_orm::ActiveValue::Set;
use sea_orm::IntoActiveModel;
use serde_json::Value;
use tokio::sync::Notify;

use crate::gateway::sms::SmsGateway;
use crate::gateway::whatsapp::WhatsappGateway;
use crate::gateway::{Accepted, Content, GatewayError, Recipient};
use crate::service::event_data;
use crate::service::ingest::stored_external_id;

/// Retry policy.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Wait before the second attempt; doubled each time.
    pub base: Duration,
    /// Longest wait between attempts.
    pub max: Duration,
    /// Attempts before the message is marked failed.
    pub max_attempts: i32,
    /// How long a claimed message is reserved for one sender.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            max: Duration::from_secs(300),
            max_attempts: 8,
            lease: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
        self.base.saturating_mul(2u32.saturating_pow(exponent)).min(self.max)
    }
}

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
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let txn = self.db.begin().await.map_err(|e| StoreError::Unexpected(e.into()))?;
        let claimed = messages::claim_due(&*txn, now, now + to_chrono(self.policy.lease), 16).await?;
        txn.commit().await.map_err(|e| StoreError::Unexpected(e.into()))?;
        let count = claimed.len();
        let sends = claimed.into_iter().map(|m| self.deliver(m));
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(count)
    }

    async fn deliver(&self, message: message::Model) -> Result<(), StoreError> {
        let workspace = WorkspaceId::from_uuid(message.workspace_id);
        let conversation = conversations::find(
            self.db.conn(),
            workspace,
            ConversationId::from_uuid(message.conversation_id),
        )
        .await?
        .ok_or(StoreError::MissingReference { what: "conversation" })?;
        let result = match message.channel.parse::<Channel>() {
            Ok(Channel::Sms) => self.send_sms(&message, &conversation).await?,
            _ => self.send_whatsapp(&message, &conversation).await?,
        };
        self.record(message, &conversation, result).await
    }

    async fn send_whatsapp(
        &self,
        message: &message::Model,
        conversation: &persistence::entities::conversation::Model,
    ) -> Result<Result<Accepted, GatewayError>, StoreError> {
        let workspace = WorkspaceId::from_uuid(message.workspace_id);
        let number = business_numbers::find(
            self.db.conn(),
            workspace,
            domain::BusinessNumberId::from_uuid(message.business_number_id),
        )
        .await?
        .ok_or(StoreError::MissingReference { what: "business number" })?;
        let recipient = match (&conversation.customer_phone, &conversation.customer_bsuid) {
            (Some(phone), _) => PhoneNumber::parse(phone).ok().map(Recipient::Phone),
            (None, Some(bsuid)) => Bsuid::parse(bsuid).ok().map(Recipient::Bsuid),
            (None, None) => None,
        };
        let (Some(recipient), Some(content)) = (recipient, content_of(message)) else {
            return Ok(Err(GatewayError {
                retryable: false,
                code: None,
                title: "nothing to send or no one to send it to".into(),
            }));
        };
        Ok(self.whatsapp.send(&number.phone_number_id, &recipient, &content).await)
    }

    async fn send_sms(
        &self,
        message: &message::Model,
        conversation: &persistence::entities::conversation::Model,
    ) -> Result<Result<Accepted, GatewayError>, StoreError> {
        let workspace = WorkspaceId::from_uuid(message.workspace_id);
        let contact_phone = match conversation.contact_id {
            Some(c) => contacts::find(self.db.conn(), workspace, ContactId::from_uuid(c))
                .await?
                .and_then(|c| c.phone),
            None => None,
        };
        let phone =
            conversation.customer_phone.clone().or(contact_phone).and_then(|p| PhoneNumber::parse(&p).ok());
        let Some(phone) = phone else {
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
        conversation: &persistence::entities::conversation::Model,
        result: Result<Accepted, GatewayError>,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        let workspace = WorkspaceId::from_uuid(message.workspace_id);
        let attempts = message.attempts;
        let txn = self.db.begin().await.map_err(|e| StoreError::Unexpected(e.into()))?;
        let mut update = message.into_active_model();
        let status = match result {
            Ok(accepted) => {
                update.status = Set(MessageStatus::Sent.as_str().to_owned());
                update.external_id = Set(Some(stored_external_id(
                    &accepted.provider_id,
                    conversation.customer_phone.is_some(),
                )));
                update.error_code = Set(None);
                update.error_title = Set(None);
                update.next_attempt_at = Set(None);
                metrics::counter!("parley_outbound_sends_total", "outcome" => "sent").increment(1);
                Some(MessageStatus::Sent)
            }
            Err(err) if err.retryable && attempts < self.policy.max_attempts => {
                update.error_code = Set(err.code);
                update.error_title = Set(Some(err.title.clone()));
                update.next_attempt_at = Set(Some(now + to_chrono(self.policy.backoff(attempts))));
                tracing::info!(attempts, code = ?err.code, "send failed; will retry");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "retry").increment(1);
                None
            }
            Err(err) => {
                update.status = Set(MessageStatus::Failed.as_str().to_owned());
                update.error_code = Set(err.code);
                update.error_title = Set(Some(err.title.clone()));
                update.next_attempt_at = Set(None);
                tracing::warn!(attempts, code = ?err.code, "send failed for good");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "failed").increment(1);
                Some(MessageStatus::Failed)
            }
        };
        update.updated_at = Set(now);
        let saved = messages::update(&*txn, update).await?;
        if let Some(status) = status {
            let mut data = event_data::message(&saved, conversation);
            data["previousStatus"] = Value::from(MessageStatus::Pending.as_str());
            data["errorCode"] = Value::from(saved.error_code);
            data["errorTitle"] = Value::from(saved.error_title.clone());
            let event = NewEvent {
                event_type: types::MESSAGE_STATUS_UPDATED,
                conversation_id: Some(ConversationId::from_uuid(conversation.id)),
                contact_id: conversation.contact_id.map(ContactId::from_uuid),
                data,
            };
            events::append(&*txn, workspace, event, now).await?;
            tracing::debug!(status = %status, "outbound message recorded");
        }
        txn.commit().await.map_err(|e| StoreError::Unexpected(e.into()))
    }
}

/// The gateway content of a stored outbound message.
fn content_of(message: &message::Model) -> Option<Content> {
    let content = message.content.as_ref()?;
    let text = |key: &str| content.get(key).and_then(Value::as_str).map(str::to_owned);
    match content.get("type").and_then(Value::as_str)? {
        "text" => Some(Content::Text { body: text("body")? }),
        "template" => Some(Content::Template {
            name: text("name")?,
            language: text("language")?,
            parameters: content
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| ps.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        }),
        "request_contact_info" => Some(Content::RequestContactInfo { body: text("body")? }),
        _ => None,
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
