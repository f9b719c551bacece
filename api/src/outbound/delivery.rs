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

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::delivery::{self, AttachmentFacts, MediaSource, NumberFacts, Plan, Refusal, SendFacts};
use domain::{Channel, MessageStatus, PhoneNumber};
use futures::FutureExt;
use futures::stream::{FuturesUnordered, StreamExt};
use persistence::blobs::BlobStore;
use persistence::content::MessageContent;
use persistence::messages::{ProviderError, SendResult, StatusChange};
use persistence::sealed::Purpose;
use persistence::{Attachment, BusinessNumber, Conversation, Message};
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
use crate::workflow::status;
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
    GatewayError::not_sent(title)
}

/// What a send from a disconnected number comes to.
fn disconnected() -> GatewayError {
    refused(Refusal::NumberDisconnected.to_string())
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
        let (claimed, reactions, signals) = self
            .db
            .write(async |txn| {
                let claimed = messages::claim_due(txn, now, lease, 16).await?;
                let reactions = reactions::claim_due(txn, now, lease, 16).await?;
                let signals = signals::claim_due(txn, now, lease, 16).await?;
                Ok::<_, persistence::Error>((claimed, reactions, signals))
            })
            .await?;
        let count = claimed.len() + reactions.len() + signals.len();
        let reacts = reactions.into_iter().map(|r| self.deliver_reaction(r));
        let signs = signals.into_iter().map(|s| self.deliver_signal(s));
        let (sent, reacted, signalled) = futures::join!(
            self.deliver_all(claimed),
            futures::future::join_all(reacts),
            futures::future::join_all(signs)
        );
        sent?;
        for result in reacted.into_iter().chain(signalled) {
            result?;
        }
        Ok(count)
    }

    /// The raw provider id of a message (for `context.message_id` and reactions): as stored, or
    /// opened from its sealed copy when the stored one is a digest.
    fn raw_provider_id(&self, message: &Message) -> Option<String> {
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
        reaction: persistence::MessageReaction,
    ) -> Result<(), persistence::Error> {
        let target = messages::find(self.db.conn(), reaction.workspace_id, reaction.message_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "message" })?;
        let conversation = conversations::find(self.db.conn(), target.workspace_id, target.conversation_id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
        let number = self.number(target.workspace_id, target.business_number_id).await?;
        let recipient =
            Recipient::of(conversation.customer_phone.as_ref(), conversation.customer_bsuid.as_ref());
        let result = match (recipient, self.raw_provider_id(&target)) {
            (Some(recipient), Some(wamid)) => {
                let body = WhatsappGateway::reaction_body(&recipient, &wamid, &reaction.emoji);
                match self.api(&number) {
                    Ok(api) => api.send(&body).await,
                    Err(err) => Err(err),
                }
            }
            _ => Err(refused("the message reacted to cannot be named to WhatsApp")),
        };
        let result = self.outcome(result, reaction.attempts, conversation.customer_phone.is_some());
        self.db.write(async |txn| reactions::record_send(txn, reaction, result, Utc::now()).await).await?;
        Ok(())
    }

    /// A read receipt or typing indicator: Meta's `"status":"read"` on the raw `wamid`.
    async fn deliver_signal(&self, signal: persistence::ProviderSignal) -> Result<(), persistence::Error> {
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
                tracing::info!(code = ?err.code, failure = %err.failure, "a read receipt or typing indicator was refused");
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
    ) -> Result<BusinessNumber, persistence::Error> {
        business_numbers::find(self.db.conn(), workspace, id)
            .await?
            .ok_or(persistence::Error::MissingReference { what: "business number" })
    }

    /// The Cloud API as a connected WhatsApp number calls it (with its own token).
    fn api<'a>(&'a self, number: &'a BusinessNumber) -> Result<NumberApi<'a>, GatewayError> {
        if !number.connected {
            return Err(disconnected());
        }
        self.whatsapp.for_number(number, &self.keyring)
    }

    /// Loads what a send depends on, once: its conversation and number, the file of a media
    /// message, the quoted message's raw id; for an SMS, the contact's phone, the workspace's
    /// SMS number and the customer's opt-outs.
    async fn load(&self, message: &Message, shared: &Shared) -> Result<Loaded, persistence::Error> {
        let db = self.db.conn();
        let conversation = shared
            .conversations
            .get(&message.conversation_id)
            .filter(|c| c.workspace_id == message.workspace_id)
            .cloned()
            .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
        let number = shared
            .numbers
            .get(&message.business_number_id)
            .filter(|n| n.workspace_id == message.workspace_id)
            .cloned()
            .ok_or(persistence::Error::MissingReference { what: "business number" })?;
        let content = message.content.as_ref().and_then(MessageContent::outbound).cloned();
        let mut loaded = Loaded {
            conversation,
            number,
            workspace_sms: None,
            contact_phone: None,
            opted_out: Vec::new(),
            content,
            attachment: None,
            reply_to: None,
        };
        match message.channel {
            Channel::Whatsapp => {
                if matches!(loaded.content, Some(OutboundContent::Media { .. })) {
                    loaded.attachment = attachments::of_message(db, message.id).await?;
                }
                if let Some(id) = message.reply_to_message_id {
                    let quoted = messages::find(db, message.workspace_id, id).await?;
                    loaded.reply_to = quoted.and_then(|quoted| self.raw_provider_id(&quoted));
                }
            }
            Channel::Sms => {
                if let Some(contact) = loaded.conversation.contact_id {
                    let contact = contacts::find(db, message.workspace_id, contact).await?;
                    loaded.contact_phone = contact.and_then(|c| c.phone);
                }
                if loaded.number.channel != Channel::Sms {
                    loaded.workspace_sms = business_numbers::sms_sender_of(db, message.workspace_id).await?;
                }
                let phones: Vec<&PhoneNumber> =
                    loaded.conversation.customer_phone.iter().chain(&loaded.contact_phone).collect();
                loaded.opted_out = opt_outs::of_phones(db, &phones).await?;
            }
        }
        Ok(loaded)
    }

    /// Calls the provider as the plan says (uploading a media message's file first, once).
    async fn call(&self, loaded: &Loaded, plan: Plan<'_>, message: &Message) -> Attempt {
        match plan {
            Plan::Whatsapp { recipient, content, media } => {
                let api = match self.api(&loaded.number) {
                    Ok(api) => api,
                    Err(err) => return Attempt::answered(Err(err)),
                };
                let (media_id, uploaded) = match media {
                    None => (None, None),
                    Some(MediaSource::Uploaded(id)) => (Some(id.to_owned()), None),
                    Some(MediaSource::Upload { blob_key }) => match self.upload(&api, loaded, blob_key).await
                    {
                        Ok(id) => (Some(id.clone()), Some(id)),
                        Err(err) => return Attempt::answered(Err(err)),
                    },
                };
                let body = WhatsappGateway::request_body(
                    &recipient,
                    content,
                    media_id.as_deref(),
                    loaded.reply_to.as_deref(),
                );
                Attempt { result: api.send(&body).await, uploaded }
            }
            Plan::Sms { to, from } => {
                let sender = [Some(&loaded.number), loaded.workspace_sms.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|n| Some(n.id) == from);
                let account = match self.sms.account_of(sender, &self.keyring) {
                    Ok(account) => account,
                    Err(err) => return Attempt::answered(Err(err)),
                };
                let text = message.text.as_deref().unwrap_or_default();
                Attempt::answered(self.sms.send(account.as_ref(), from.is_some(), to, text).await)
            }
        }
    }

    /// Uploads a media message's stored bytes to the provider; its media id.
    async fn upload(
        &self,
        api: &NumberApi<'_>,
        loaded: &Loaded,
        blob_key: &str,
    ) -> Result<String, GatewayError> {
        let attachment =
            loaded.attachment.as_ref().ok_or_else(|| refused(Refusal::NoAttachment.to_string()))?;
        let bytes = self.blobs.read_all(blob_key).await.map_err(|err| {
            tracing::warn!(error = %err, "cannot read an attachment to upload");
            GatewayError { retryable: true, ..GatewayError::not_sent("the blob store failed") }
        })?;
        let name = attachment
            .file_name
            .clone()
            .unwrap_or_else(|| format!("file.{}", extension(&attachment.mime_type)));
        api.upload_media(bytes, &attachment.mime_type, &name).await
    }

    /// Sends claimed messages at once, their conversations and numbers read for all of them
    /// in two statements, and records the answers as they come: the answers that are in when
    /// the previous record commits are recorded together, in one transaction (a burst of
    /// sends costs a few commits, and no answer waits for a slower call than the ones before
    /// it). A message that fails to load or record does not keep the others from being sent
    /// and recorded; the first such error is returned after.
    async fn deliver_all(&self, claimed: Vec<Message>) -> Result<(), persistence::Error> {
        if claimed.is_empty() {
            return Ok(());
        }
        let shared = self.shared_of(&claimed).await?;
        let mut calls: FuturesUnordered<_> = claimed.into_iter().map(|m| self.attempt(m, &shared)).collect();
        let mut first_error = None;
        while let Some(answer) = calls.next().await {
            let mut answered = Vec::new();
            for answer in
                std::iter::once(answer).chain(std::iter::from_fn(|| calls.next().now_or_never().flatten()))
            {
                match answer {
                    Ok(answer) => answered.push(answer),
                    Err(err) => first_error = first_error.or(Some(err)),
                }
            }
            if let Err(err) = self.record_all(answered).await {
                first_error = first_error.or(Some(err));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The conversations and numbers of a batch of claimed messages, by id (each checked
    /// against its message's workspace when used).
    async fn shared_of(&self, claimed: &[Message]) -> Result<Shared, persistence::Error> {
        let db = self.db.conn();
        let conversation_ids: Vec<_> = claimed.iter().map(|m| m.conversation_id).collect();
        let number_ids: Vec<_> = claimed.iter().map(|m| m.business_number_id).collect();
        let (conversations, numbers) = futures::try_join!(
            persistence::inbox::find_any_of(db, &conversation_ids),
            business_numbers::find_any_of(db, &number_ids)
        )?;
        Ok(Shared {
            conversations: conversations.into_iter().map(|c| (c.id, c)).collect(),
            numbers: numbers.into_iter().map(|n| (n.id, n)).collect(),
        })
    }

    /// Loads, plans and calls one claimed message; what to record comes back.
    async fn attempt(&self, message: Message, shared: &Shared) -> Result<Answered, persistence::Error> {
        let loaded = self.load(&message, shared).await?;
        let plan = delivery::plan(&loaded.facts(&message));
        let attempt = match plan {
            Ok(plan) => self.call(&loaded, plan, &message).await,
            Err(refusal) => Attempt::answered(Err(refused(refusal.to_string()))),
        };
        let phone_known = loaded.conversation.customer_phone.is_some();
        let result = self.outcome(attempt.result, message.attempts, phone_known);
        Ok(Answered { message, loaded, uploaded: attempt.uploaded, result })
    }

    /// What a send attempt comes to: sent (under the provider's id, as Parley stores it), a
    /// retry with backoff (5xx, timeouts, rate limits), or given up.
    fn outcome(
        &self,
        result: Result<Accepted, GatewayError>,
        attempts: i32,
        phone_known: bool,
    ) -> SendResult {
        let provider_error =
            |err: &GatewayError| ProviderError { code: err.code, title: Some(err.title.clone()) };
        match result {
            Ok(accepted) => {
                metrics::counter!("parley_outbound_sends_total", "outcome" => "sent").increment(1);
                SendResult::Sent { id: StoredId::of(&accepted.provider_id, phone_known, &self.keyring) }
            }
            Err(err) if err.retryable && attempts < self.policy.max_attempts => {
                tracing::info!(attempts, code = ?err.code, failure = %err.failure, "send failed; will retry");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "retry").increment(1);
                let retry_at = Utc::now() + to_chrono(self.policy.backoff(attempts));
                SendResult::Retry { error: provider_error(&err), retry_at }
            }
            Err(err) => {
                tracing::warn!(attempts, code = ?err.code, failure = %err.failure, "send failed for good");
                metrics::counter!("parley_outbound_sends_total", "outcome" => "failed").increment(1);
                SendResult::Failed { error: provider_error(&err) }
            }
        }
    }

    /// Records answers in one transaction; if that fails, each in a transaction of its own
    /// (so one that cannot be recorded keeps no other from being recorded).
    async fn record_all(&self, answered: Vec<Answered>) -> Result<(), persistence::Error> {
        let now = Utc::now();
        let together = self
            .db
            .write(async |txn| {
                for answer in &answered {
                    record(txn, answer, now).await?;
                }
                Ok::<_, persistence::Error>(())
            })
            .await;
        match together {
            Err(err) if answered.len() == 1 => Err(err),
            Err(err) => {
                tracing::warn!(error = %err, "recording a batch of send answers failed; recording each alone");
                let mut first_error = None;
                for answer in &answered {
                    if let Err(err) = self.db.write(async |txn| record(txn, answer, now).await).await {
                        first_error = first_error.or(Some(err));
                    }
                }
                first_error.map_or(Ok(()), Err)
            }
            Ok(()) => Ok(()),
        }
    }
}

/// Records one answer: the uploaded file's media id (kept, so a retry does not upload again),
/// and the result on the message if it is still `PENDING`.
async fn record(
    txn: &persistence::WriteTransaction,
    answer: &Answered,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let Answered { message, loaded, uploaded, result } = answer;
    if let (Some(id), Some(attachment)) = (uploaded, &loaded.attachment) {
        attachments::set_provider_media_id(txn, attachment.clone(), id, now).await?;
    }
    let change = match result {
        SendResult::Retry { error, retry_at } => {
            messages::record_retry(txn, message, error.clone(), *retry_at, now).await?;
            return Ok(());
        }
        SendResult::Sent { id } => {
            StatusChange { to: MessageStatus::Sent, error: None, accepted_as: Some(id.clone()) }
        }
        SendResult::Failed { error } => {
            StatusChange { to: MessageStatus::Failed, error: Some(error.clone()), accepted_as: None }
        }
    };
    // Recorded only on a message still PENDING: then no erasure of its customer had committed,
    // and the conversation loaded for the send names only what may be named.
    let advanced = status::advance(txn, message, change, Some(&loaded.conversation), now).await?;
    if advanced.is_none() {
        tracing::info!("a send's answer came for a message no longer pending (erased?); not recorded");
    }
    Ok(())
}

/// What the messages of one claimed batch share, read once for all of them.
struct Shared {
    conversations: HashMap<domain::ConversationId, Conversation>,
    numbers: HashMap<domain::BusinessNumberId, BusinessNumber>,
}

/// A claimed message with its provider's answer, to record.
struct Answered {
    message: Message,
    loaded: Loaded,
    uploaded: Option<String>,
    result: SendResult,
}

/// What a send depends on, loaded once by [`Worker::load`].
struct Loaded {
    conversation: Conversation,
    number: BusinessNumber,
    /// The workspace's SMS number, for a WhatsApp conversation moved to SMS.
    workspace_sms: Option<BusinessNumber>,
    contact_phone: Option<PhoneNumber>,
    opted_out: Vec<(domain::BusinessNumberId, PhoneNumber)>,
    content: Option<OutboundContent>,
    attachment: Option<Attachment>,
    /// The quoted message's raw provider id, for a reply.
    reply_to: Option<String>,
}

impl Loaded {
    fn facts<'a>(&'a self, message: &Message) -> SendFacts<'a> {
        let number =
            |n: &BusinessNumber| NumberFacts { id: n.id, channel: n.channel, connected: n.connected };
        SendFacts {
            channel: message.channel,
            number: number(&self.number),
            workspace_sms_number: self.workspace_sms.as_ref().map(number),
            customer_phone: self.conversation.customer_phone.as_ref(),
            customer_bsuid: self.conversation.customer_bsuid.as_ref(),
            contact_phone: self.contact_phone.as_ref(),
            opted_out: &self.opted_out,
            content: self.content.as_ref(),
            attachment: self.attachment.as_ref().map(|a| AttachmentFacts {
                provider_media_id: a.provider_media_id.as_deref(),
                blob_key: a.blob_key.as_deref(),
            }),
        }
    }
}

/// The provider's answer to one attempt, and the media id of a file uploaded for it.
struct Attempt {
    result: Result<Accepted, GatewayError>,
    uploaded: Option<String>,
}

impl Attempt {
    fn answered(result: Result<Accepted, GatewayError>) -> Self {
        Self { result, uploaded: None }
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
