//! The delivery worker: sends `PENDING` outbound messages through the gateways, with retries
//! and exponential backoff on 5xx, timeouts and rate limits, and records the result (the
//! provider's id, so status webhooks find the message, or the provider's error).
//!
//! A media message's file is uploaded to the provider first (once: the provider's media id is
//! kept on the attachment), then sent by that id; a reply carries the quoted message's raw
//! provider id (opened from its sealed copy for a customer who hid the number). The business's
//! reactions are a second queue, sent the same way, and read receipts and typing indicators a
//! third. Each business number calls its provider with its own credentials; an SMS of a
//! WhatsApp conversation moved to SMS goes from the workspace's SMS number (else the default
//! sender).
//!
//! Messages are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so several
//! `parley serve` processes never send the same message concurrently. A sender that crashes
//! mid-send leaves the lease to expire and the message is tried again: delivery is
//! at-least-once towards the provider.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{Channel, MessageStatus};
use persistence::blobs::BlobStore;
use persistence::content::MessageContent;
use persistence::entities::business_number;
use persistence::entities::{conversation, message};
use persistence::messages::{ProviderError, SendResult};
use persistence::sealed::Purpose;
use persistence::{
    Database, Work, attachments, business_numbers, contacts, conversations, messages, opt_outs, reactions,
    signals,
};
use secrecy::ExposeSecret;

use crate::config::RetryPolicy;
use crate::providers::meta::{NumberApi, WhatsappGateway};
use crate::providers::sms::SmsGateway;
use crate::providers::{Accepted, GatewayError, OutboundContent, Recipient};
use crate::workers::Next;
use persistence::messages::StoredId;
use persistence::sealed::Keyring;

/// The worker.
#[derive(Clone, Debug)]
pub struct Worker {
    pub db: Database,
    pub whatsapp: WhatsappGateway,
    pub sms: SmsGateway,
    pub policy: RetryPolicy,
    /// Seals the provider's id of a message to a customer who hid the number, and opens it for
    /// replies and reactions.
    pub keyring: Arc<Keyring>,
    /// Where uploaded files are.
    pub blobs: BlobStore,
}

fn refused(title: impl Into<String>) -> GatewayError {
    GatewayError { retryable: false, code: None, title: title.into() }
}

/// Who a WhatsApp message of the conversation goes to: the phone when known (in `to`), else the
/// BSUID (in `recipient`).
fn recipient_of(conversation: &conversation::Model) -> Option<Recipient> {
    match (&conversation.customer_phone, &conversation.customer_bsuid) {
        (Some(phone), _) => Some(Recipient::Phone(phone.clone())),
        (None, Some(bsuid)) => Some(Recipient::Bsuid(bsuid.clone())),
        (None, None) => None,
    }
}

/// What a send from a disconnected number comes to.
fn disconnected() -> GatewayError {
    refused(domain::capabilities::Denial::NumberDisconnected.reason())
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

impl crate::workers::Worker for Worker {
    const NAME: &'static str = "delivery";
    const WAKES: &'static [Work] = &[Work::Delivery];

    /// Sends what is due, when something is (one read when nothing is).
    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let due = persistence::send_queue::next_due(self.db.conn()).await?;
        crate::workers::when_due(due, now, || self.run_once(now)).await
    }
}

impl Worker {
    /// Claims and sends what is due; returns how many messages it handled.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn run_once(&self, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
        let lease = now + to_chrono(self.policy.lease);
        let txn = self.db.begin().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        let claimed = messages::claim_due(&txn, now, lease, 16).await?;
        let reactions = reactions::claim_due(&txn, now, lease, 16).await?;
        let signals = signals::claim_due(&txn, now, lease, 16).await?;
        txn.commit().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        let count = claimed.len() + reactions.len() + signals.len();
        let sends = claimed.into_iter().map(|m| self.deliver(m));
        let reacts = reactions.into_iter().map(|r| self.deliver_reaction(r));
        let signs = signals.into_iter().map(|s| self.deliver_signal(s));
        let (sent, reacted, signalled) = futures::join!(
            futures::future::join_all(sends),
            futures::future::join_all(reacts),
            futures::future::join_all(signs)
        );
        for result in sent.into_iter().chain(reacted).chain(signalled) {
            result?;
        }
        Ok(count)
    }

    /// The raw provider id of a message (for `context.message_id` and reactions): as stored, or
    /// opened from its sealed copy when the stored one is a digest.
    fn raw_provider_id(&self, message: &message::Model) -> Option<String> {
        if let Some(sealed) = &message.external_id_sealed {
            return match self.keyring.open(Purpose::MessageId, sealed) {
                Ok(raw) => Some(raw.expose_secret().to_owned()),
                Err(err) => {
                    tracing::warn!(error = %err, "a sealed message id does not open");
                    None
                }
            };
        }
        message.external_id.clone().filter(|id| !id.starts_with("sha256:"))
    }

    async fn deliver_reaction(
        &self,
        reaction: persistence::entities::message_reaction::Model,
    ) -> Result<(), persistence::Error> {
        let target = messages::find(self.db.conn(), reaction.workspace_id, reaction.message_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "message" })?;
        let conversation = conversations::find(self.db.conn(), target.workspace_id, target.conversation_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
        let number = self.number(target.workspace_id, target.business_number_id).await?;
        let result = match (recipient_of(&conversation), self.raw_provider_id(&target)) {
            (Some(recipient), Some(wamid)) => {
                let body = WhatsappGateway::reaction_body(&recipient, &wamid, &reaction.emoji);
                match self.api(&number) {
                    Ok(api) => api.send(&body).await,
                    Err(err) => Err(err),
                }
            }
            _ => Err(refused("the message reacted to cannot be named to WhatsApp")),
        };
        let attempts = reaction.attempts;
        let (result, _) = self.outcome(result, attempts, conversation.customer_phone.is_some());
        let txn = self.db.begin().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        reactions::record_send(&txn, reaction, result, Utc::now()).await?;
        txn.commit().await.map_err(|e| persistence::Error::Unexpected(e.into()))
    }

    /// A read receipt or typing indicator: Meta's `"status":"read"` on the raw `wamid`.
    async fn deliver_signal(
        &self,
        signal: persistence::entities::provider_signal::Model,
    ) -> Result<(), persistence::Error> {
        let target = messages::find(self.db.conn(), signal.workspace_id, signal.message_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "message" })?;
        let number = self.number(target.workspace_id, target.business_number_id).await?;
        let result = match self.raw_provider_id(&target) {
            Some(wamid) => {
                let body = WhatsappGateway::signal_body(&wamid, signal.kind == signals::TYPING);
                match self.api(&number) {
                    Ok(api) => api.send(&body).await,
                    Err(err) => Err(err),
                }
            }
            None => Err(refused("the message cannot be named to WhatsApp")),
        };
        let result = match result {
            Ok(_) => SendResult::Sent { id: StoredId { external_id: String::new(), sealed: None } },
            Err(err) if err.retryable && signal.attempts < self.policy.max_attempts => {
                let retry_at = Utc::now() + to_chrono(self.policy.backoff(signal.attempts));
                SendResult::Retry {
                    error: ProviderError { code: err.code, title: Some(err.title) },
                    retry_at,
                }
            }
            Err(err) => {
                tracing::info!(code = ?err.code, "a read receipt or typing indicator was refused");
                SendResult::Failed { error: ProviderError { code: err.code, title: Some(err.title) } }
            }
        };
        self.db.write(async |txn| signals::record(txn, signal, result, Utc::now()).await).await?;
        Ok(())
    }

    async fn number(
        &self,
        workspace: domain::WorkspaceId,
        id: domain::BusinessNumberId,
    ) -> Result<business_number::Model, persistence::Error> {
        business_numbers::find(self.db.conn(), workspace, id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "business number" })
    }

    /// The Cloud API as a connected WhatsApp number calls it (with its own token).
    fn api<'a>(&'a self, number: &'a business_number::Model) -> Result<NumberApi<'a>, GatewayError> {
        if !number.connected {
            return Err(disconnected());
        }
        self.whatsapp.for_number(number, &self.keyring)
    }

    /// A media message's provider media id: the one its attachment already has, or a fresh
    /// upload of the stored bytes (kept, so a retry does not upload again).
    async fn provider_media_id(
        &self,
        message: &message::Model,
        api: &NumberApi<'_>,
    ) -> Result<Result<String, GatewayError>, persistence::Error> {
        let Some(attachment) = attachments::of_message(self.db.conn(), message.id).await? else {
            return Ok(Err(refused("the media message has no attachment")));
        };
        if let Some(id) = &attachment.provider_media_id {
            return Ok(Ok(id.clone()));
        }
        let Some(key) = attachment.blob_key.as_deref() else {
            return Ok(Err(refused("the attachment has no stored bytes")));
        };
        let bytes = match self.blobs.read_all(key).await {
            Ok(bytes) => bytes,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read an attachment to upload");
                return Ok(Err(GatewayError {
                    retryable: true,
                    code: None,
                    title: "the blob store failed".into(),
                }));
            }
        };
        let name = attachment
            .file_name
            .clone()
            .unwrap_or_else(|| format!("file.{}", extension(&attachment.mime_type)));
        match api.upload_media(bytes, &attachment.mime_type, &name).await {
            Ok(id) => {
                self.db
                    .write(async |txn| {
                        attachments::set_provider_media_id(txn, attachment, &id, Utc::now()).await
                    })
                    .await?;
                Ok(Ok(id))
            }
            Err(err) => Ok(Err(err)),
        }
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
        let number = self.number(message.workspace_id, message.business_number_id).await?;
        let api = match self.api(&number) {
            Ok(api) => api,
            Err(err) => return Ok(Err(err)),
        };
        let content = message.content.as_ref().and_then(MessageContent::outbound);
        let (Some(recipient), Some(content)) = (recipient_of(conversation), content) else {
            return Ok(Err(refused("nothing to send or no one to send it to")));
        };
        let media_id = match content {
            OutboundContent::Media { .. } => match self.provider_media_id(message, &api).await? {
                Ok(id) => Some(id),
                Err(err) => return Ok(Err(err)),
            },
            _ => None,
        };
        let reply_to = match message.reply_to_message_id {
            Some(id) => messages::find(self.db.conn(), message.workspace_id, id)
                .await?
                .and_then(|quoted| self.raw_provider_id(&quoted)),
            None => None,
        };
        let body =
            WhatsappGateway::request_body(&recipient, content, media_id.as_deref(), reply_to.as_deref());
        Ok(api.send(&body).await)
    }

    /// What a send attempt comes to: sent (under the provider's id, as Parley stores it), a
    /// retry with backoff (5xx, timeouts, rate limits), or given up; and the status it moves to.
    fn outcome(
        &self,
        result: Result<Accepted, GatewayError>,
        attempts: i32,
        phone_known: bool,
    ) -> (SendResult, Option<MessageStatus>) {
        let provider_error =
            |err: &GatewayError| ProviderError { code: err.code, title: Some(err.title.clone()) };
        match result {
            Ok(accepted) => {
                metrics::counter!("parley_outbound_sends_total", "outcome" => "sent").increment(1);
                let id = StoredId::of(&accepted.provider_id, phone_known, &self.keyring);
                (SendResult::Sent { id }, Some(MessageStatus::Sent))
            }
            Err(err) if err.retryable && attempts < self.policy.max_attempts => {
                tracing::info!(attempts, code = ?err.code, "send failed; will retry");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "retry").increment(1);
                let retry_at = Utc::now() + to_chrono(self.policy.backoff(attempts));
                (SendResult::Retry { error: provider_error(&err), retry_at }, None)
            }
            Err(err) => {
                tracing::warn!(attempts, code = ?err.code, "send failed for good");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "failed").increment(1);
                (SendResult::Failed { error: provider_error(&err) }, Some(MessageStatus::Failed))
            }
        }
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
            return Ok(Err(refused("no phone number to text")));
        };
        // The SMS number of the conversation, or the workspace's for a conversation moved to SMS.
        let number = self.number(message.workspace_id, message.business_number_id).await?;
        let sender = if number.channel == Channel::Sms {
            if !number.connected {
                return Ok(Err(disconnected()));
            }
            Some(number)
        } else {
            business_numbers::sms_sender_of(self.db.conn(), message.workspace_id).await?
        };
        if let Some(sender) = &sender {
            // The capability check refused this already; a STOP that arrived since is honoured
            // here rather than by the provider's error 21610.
            if opt_outs::is_opted_out(self.db.conn(), sender, &phone).await? {
                return Ok(Err(refused(domain::capabilities::Denial::OptedOut.reason())));
            }
        }
        let account = match self.sms.account_of(sender.as_ref(), &self.keyring) {
            Ok(account) => account,
            Err(err) => return Ok(Err(err)),
        };
        let text = message.text.as_deref().unwrap_or_default();
        Ok(self.sms.send(account.as_ref(), sender.is_some(), &phone, text).await)
    }

    async fn record(
        &self,
        message: message::Model,
        conversation: &conversation::Model,
        result: Result<Accepted, GatewayError>,
    ) -> Result<(), persistence::Error> {
        let now = Utc::now();
        let (result, status) = self.outcome(result, message.attempts, conversation.customer_phone.is_some());
        let txn = self.db.begin().await.map_err(|e| persistence::Error::Unexpected(e.into()))?;
        let Some(saved) = messages::record_send(&txn, message, result, now).await? else {
            tracing::info!("a send's answer came for a message no longer pending (erased?); not recorded");
            return Ok(());
        };
        if let Some(status) = status {
            // The message was still PENDING, so no erasure of its customer had committed: the
            // conversation loaded for the send still names only what may be named.
            let previous = MessageStatus::Pending;
            crate::events::emit(
                &txn,
                crate::events::Event::MessageStatusUpdated { message: &saved, conversation, previous },
                now,
            )
            .await?;
            tracing::debug!(status = %status, "outbound message recorded");
        }
        txn.commit().await.map_err(|e| persistence::Error::Unexpected(e.into()))
    }
}

/// A file name extension for an upload without a name (Meta picks the icon from it).
fn extension(mime: &str) -> &'static str {
    match domain::media::essence(mime).as_str() {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        _ => "bin",
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
