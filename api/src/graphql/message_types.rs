//! A message's objects in the thread's graph: `Message` (with its author, reply and capability
//! to react), its `Attachment`s and `Reaction`s. They name no conversation, so the conversation
//! graph ([`super::conversations`]) imports them and nothing imports back.

use super::context::{loaders_of, now};
use super::enums;
use super::loaders::{AgentKey, AttachmentsKey, MessageKey, ReactionsKey};
use super::setup::Agent;
use crate::error::ApiError;
use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

/// One message.
pub struct Message(pub persistence::Message);

/// One message.
#[Object]
impl Message {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Who wrote it.
    async fn direction(&self) -> enums::Direction {
        self.0.direction.into()
    }

    /// WhatsApp message type: text, image, audio, video, document, sticker, location,
    /// contacts, interactive, button, reaction, order, system, unsupported, template.
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The text, or a readable summary for other types (`[image] caption`).
    async fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    /// The template's name, for template messages.
    async fn template_name(&self) -> Option<&str> {
        self.0.template_name.as_deref()
    }

    /// The template's category, for template messages.
    async fn template_category(&self) -> Option<enums::TemplateCategory> {
        self.0.template_category.map(Into::into)
    }

    /// Delivery state.
    async fn status(&self) -> enums::MessageStatus {
        self.0.status.into()
    }

    /// The provider's message id. For a customer who hid the number this is a digest
    /// (`sha256:…`), because WhatsApp ids can encode the phone number.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    /// The channel it went through.
    async fn channel(&self) -> enums::Channel {
        self.0.channel.into()
    }

    /// When it was written (WhatsApp's own timestamp for inbound messages).
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.sent_at
    }

    /// The agent who wrote it (outbound messages and notes; null for the customer's and for
    /// imported history).
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.author_agent_id {
            Some(id) => Ok(loaders_of(ctx)?.load_one(AgentKey(id)).await.map_err(ApiError::from)?.map(Agent)),
            None => Ok(None),
        }
    }

    /// The provider's error code, for failed messages.
    async fn error_code(&self) -> Option<i64> {
        self.0.error_code
    }

    /// The provider's error title, for failed messages.
    async fn error_title(&self) -> Option<&str> {
        self.0.error_title.as_deref()
    }

    /// Its files (a photo, voice note, document…); empty for text.
    async fn attachments(&self, ctx: &Context<'_>) -> Result<Vec<Attachment>> {
        let rows = loaders_of(ctx)?.load_one(AttachmentsKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Attachment).collect())
    }

    /// The message it replies to (quotes), of the same conversation.
    async fn reply_to(&self, ctx: &Context<'_>) -> Result<Option<Message>> {
        match self.0.reply_to_message_id {
            Some(id) => {
                Ok(loaders_of(ctx)?.load_one(MessageKey(id)).await.map_err(ApiError::from)?.map(Message))
            }
            None => Ok(None),
        }
    }

    /// The reactions on it: the customer's and the business's (at most one each).
    async fn reactions(&self, ctx: &Context<'_>) -> Result<Vec<Reaction>> {
        let rows = loaders_of(ctx)?.load_one(ReactionsKey(self.0.id)).await.map_err(ApiError::from)?;
        Ok(rows.unwrap_or_default().into_iter().map(Reaction).collect())
    }
}

/// A file attached to a message.
pub struct Attachment(pub persistence::Attachment);

/// A file attached to a message: a customer's photo, voice note or document (fetched from
/// WhatsApp into Parley's store), or an agent's upload.
#[Object]
impl Attachment {
    /// Opaque id (pass it to `sendMedia` for an upload).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What kind of file it is.
    async fn kind(&self) -> enums::AttachmentKind {
        self.0.kind.into()
    }

    /// Its MIME type, such as `image/jpeg`.
    async fn mime_type(&self) -> &str {
        &self.0.mime_type
    }

    /// Its file name, for documents.
    async fn file_name(&self) -> Option<&str> {
        self.0.file_name.as_deref()
    }

    /// Its size, once stored.
    async fn size_bytes(&self) -> Option<i64> {
        self.0.size_bytes
    }

    /// SHA-256 of the stored bytes (hex), once stored.
    async fn sha256(&self) -> Option<&str> {
        self.0.sha256.as_deref()
    }

    /// The caption shown with it.
    async fn caption(&self) -> Option<&str> {
        self.0.caption.as_deref()
    }

    /// Whether its bytes are stored (fetching is prompt, retried for 24 hours).
    async fn status(&self) -> enums::AttachmentStatus {
        self.0.status.into()
    }

    /// Why it could not be fetched, for `FAILED` ones.
    async fn failure_reason(&self) -> Option<&str> {
        self.0.failure_reason.as_deref()
    }

    /// A signed download link valid for 15 minutes (`/media/{id}?exp=…&sig=…`, usable as an
    /// `<img src>`), once stored; `GET /media/{id}` with a bearer token works too.
    async fn url(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        if self.0.status != domain::AttachmentStatus::Stored {
            return Ok(None);
        }
        let links = ctx.data::<crate::links::MediaLinks>()?;
        let keyring = ctx.data::<persistence::sealed::Keyring>()?;
        Ok(Some(links.url(keyring, self.0.id, now(ctx))))
    }
}

/// An emoji on a message.
pub struct Reaction(pub persistence::MessageReaction);

/// An emoji on a message: the customer's, or the business's (set by an agent).
#[Object]
impl Reaction {
    /// The emoji.
    async fn emoji(&self) -> &str {
        &self.0.emoji
    }

    /// `INBOUND`: the customer's; `OUTBOUND`: the business's.
    async fn direction(&self) -> enums::Direction {
        self.0.direction.into()
    }

    /// The agent who set the business's reaction.
    async fn agent(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.agent_id {
            Some(id) => Ok(loaders_of(ctx)?.load_one(AgentKey(id)).await.map_err(ApiError::from)?.map(Agent)),
            None => Ok(None),
        }
    }

    /// When it was set.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}
