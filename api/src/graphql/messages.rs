//! Messages: the `Message` type and the mutations that reach the customer (replies,
//! templates, the phone-number request, calls, the channel switch).

use super::context::{db, now, parse_id, viewer};
use super::conversations::{Conversation, Message};
use super::enums;
use super::guards::RoleGuard;
use crate::outbound::actions::{NumberSource, SendOptions};
use async_graphql::{Context, ID, Object, Result};
use domain::Permission;
use domain::{AttachmentId, ConversationId, MessageId, TemplateId};

/// Where the number of an outbound call comes from.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum CallNumberSource {
    /// The conversation's own customer phone.
    Conversation,
    /// The phone of the contact the conversation is linked to.
    Contact,
}

/// An outbound call for the workspace's telephony to place.
#[derive(async_graphql::SimpleObject)]
pub struct Call {
    /// The conversation the call belongs to.
    pub conversation_id: ID,
    /// The number to dial, E.164.
    pub phone_number: String,
    /// Where the number comes from.
    pub source: CallNumberSource,
}

/// Reaching the customer. Every action checks its capability first; a denied one fails with
/// `CAPABILITY_DENIED` and stores and sends nothing.
#[derive(Default)]
pub struct MessagingMutation;

fn send_options<'a>(
    idempotency_key: Option<&'a str>,
    reply_to: Option<&ID>,
) -> Result<SendOptions<'a>, crate::error::ApiError> {
    let reply_to = reply_to.map(|id| parse_id::<MessageId>(id, "replyToMessageId")).transpose()?;
    Ok(SendOptions { idempotency_key, reply_to })
}

#[Object]
impl MessagingMutation {
    /// Sends a free-form message (inside WhatsApp's 24-hour window, or on SMS). With an
    /// `idempotencyKey`, repeating the call returns the first message instead of sending twice;
    /// with `replyToMessageId` (a message of the conversation) it quotes that message.
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        text: String,
        idempotency_key: Option<String>,
        reply_to_message_id: Option<ID>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let options = send_options(idempotency_key.as_deref(), reply_to_message_id.as_ref())?;
        let sent =
            crate::outbound::actions::send_text(db(ctx)?, viewer(ctx)?, id, &text, options, now(ctx)).await?;
        Ok(Message(sent))
    }

    /// Sends a template, its `{{n}}` parameters filled in order (optionally quoting a message
    /// of the conversation).
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn send_template(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        template_id: ID,
        parameters: Option<Vec<String>>,
        idempotency_key: Option<String>,
        reply_to_message_id: Option<ID>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let template = parse_id::<TemplateId>(&template_id, "templateId")?;
        let parameters = parameters.unwrap_or_default();
        let options = send_options(idempotency_key.as_deref(), reply_to_message_id.as_ref())?;
        let sent = crate::outbound::actions::send_template(
            db(ctx)?,
            viewer(ctx)?,
            id,
            template,
            &parameters,
            options,
            now(ctx),
        )
        .await?;
        Ok(Message(sent))
    }

    /// Asks the customer to share their phone number (WhatsApp's request-contact-info message).
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn request_phone_number(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        text: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let sent = crate::outbound::actions::request_phone_number(
            db(ctx)?,
            viewer(ctx)?,
            id,
            text.as_deref(),
            idempotency_key.as_deref(),
            now(ctx),
        )
        .await?;
        Ok(Message(sent))
    }

    /// Sends a photo, video, audio, document or sticker uploaded with `POST /media` (WhatsApp,
    /// inside the window: capability `media`), with a caption where WhatsApp shows one
    /// (image, video, document).
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn send_media(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        attachment_id: ID,
        caption: Option<String>,
        reply_to_message_id: Option<ID>,
        idempotency_key: Option<String>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let attachment = parse_id::<AttachmentId>(&attachment_id, "attachmentId")?;
        let options = send_options(idempotency_key.as_deref(), reply_to_message_id.as_ref())?;
        let sent = crate::outbound::actions::send_media(
            db(ctx)?,
            viewer(ctx)?,
            id,
            attachment,
            caption.as_deref(),
            options,
            now(ctx),
        )
        .await?;
        Ok(Message(sent))
    }

    /// Sets the business's reaction on a message (window rules as a reply: capability `react`);
    /// `""` removes it. Returns the message.
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn react_to_message(&self, ctx: &Context<'_>, message_id: ID, emoji: String) -> Result<Message> {
        let id = parse_id::<MessageId>(&message_id, "messageId")?;
        let message = crate::outbound::actions::react(db(ctx)?, viewer(ctx)?, id, &emoji, now(ctx)).await?;
        Ok(Message(message))
    }

    /// The number to dial for an outbound call (the conversation's, else its contact's).
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn start_call(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Call> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let call = crate::outbound::actions::start_call(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?;
        Ok(Call {
            conversation_id: ID(call.conversation_id.to_string()),
            phone_number: call.phone.as_str().to_owned(),
            source: match call.source {
                NumberSource::Conversation => CallNumberSource::Conversation,
                NumberSource::Contact => CallNumberSource::Contact,
            },
        })
    }

    /// Moves the conversation's replies to SMS (needs a phone) or back to WhatsApp.
    #[graphql(guard = "RoleGuard::new(Permission::ReachCustomer)")]
    async fn switch_channel(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        channel: enums::Channel,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved =
            crate::outbound::actions::switch_channel(db(ctx)?, viewer(ctx)?, id, channel.into(), now(ctx))
                .await?;
        Ok(Conversation(saved))
    }
}
