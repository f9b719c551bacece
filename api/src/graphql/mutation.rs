//! Mutations, split per feature and merged into [`super::Mutation`]. Each calls one use case.

use async_graphql::{Context, ID, InputObject, Object, Result};
use domain::{BusinessNumberId, ContactId, ConversationId, ConversationStatus, TemplateId};

use super::guards::RoleGuard;
use super::query::parse_agent_id;
use super::types::{Agent, BusinessNumber, Contact, Conversation, Message, Template};
use super::{db, enums, now, parse_id, viewer};
use crate::delivery::DeliveryHandle;
use crate::gateway::whatsapp::WhatsappGateway;
use crate::service::outbound::NumberSource;
use crate::service::{self, templates::TemplateInput};

/// A new agent.
#[derive(InputObject)]
pub struct CreateAgentInput {
    /// E-mail address, unique in the workspace.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: enums::Role,
}

/// A new message template.
#[derive(InputObject)]
pub struct CreateTemplateInput {
    /// WhatsApp template name: lower-case letters, digits and underscores.
    pub name: String,
    /// Language code, such as `en` or `en_US`.
    pub language: String,
    /// Category.
    pub category: enums::TemplateCategory,
    /// Body with `{{1}}`-style parameters.
    pub body: String,
}

/// Workspace set-up (admins).
#[derive(Default)]
pub struct SetupMutation;

#[Object]
impl SetupMutation {
    /// Adds an agent to the workspace (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_agent(&self, ctx: &Context<'_>, input: CreateAgentInput) -> Result<Agent> {
        let agent = service::agents::create(
            db(ctx)?,
            viewer(ctx)?,
            &input.email,
            &input.name,
            input.role.into(),
            now(ctx),
        )
        .await?;
        Ok(Agent(agent))
    }

    /// Adds a message template (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_template(&self, ctx: &Context<'_>, input: CreateTemplateInput) -> Result<Template> {
        let template_input = TemplateInput {
            name: &input.name,
            language: &input.language,
            category: input.category.into(),
            body: &input.body,
        };
        Ok(Template(service::templates::create(db(ctx)?, viewer(ctx)?, template_input, now(ctx)).await?))
    }
}

/// Working the inbox.
#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Assigns a conversation to an agent of the workspace; a null `agentId` unassigns it.
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        agent_id: Option<ID>,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let agent = parse_agent_id(agent_id.as_ref())?;
        let saved = service::conversations::assign(db(ctx)?, viewer(ctx)?, id, agent, now(ctx)).await?;
        Ok(Conversation(saved))
    }

    /// Marks a conversation resolved. A new inbound message reopens it.
    async fn resolve_conversation(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved = service::conversations::set_status(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ConversationStatus::Resolved,
            now(ctx),
        )
        .await?;
        Ok(Conversation(saved))
    }

    /// Reopens a resolved conversation.
    async fn reopen_conversation(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved = service::conversations::set_status(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ConversationStatus::Open,
            now(ctx),
        )
        .await?;
        Ok(Conversation(saved))
    }
}

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

fn wake(ctx: &Context<'_>) {
    if let Some(handle) = ctx.data_opt::<DeliveryHandle>() {
        handle.wake();
    }
}

#[Object]
impl MessagingMutation {
    /// Sends a free-form message (inside WhatsApp's 24-hour window, or on SMS). With an
    /// `idempotencyKey`, repeating the call returns the first message instead of sending twice.
    async fn send_message(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        text: String,
        idempotency_key: Option<String>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let sent = service::outbound::send_text(
            db(ctx)?,
            viewer(ctx)?,
            id,
            &text,
            idempotency_key.as_deref(),
            now(ctx),
        )
        .await?;
        wake(ctx);
        Ok(Message(sent))
    }

    /// Sends a template, its `{{n}}` parameters filled in order.
    async fn send_template(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        template_id: ID,
        parameters: Option<Vec<String>>,
        idempotency_key: Option<String>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let template = parse_id::<TemplateId>(&template_id, "templateId")?;
        let parameters = parameters.unwrap_or_default();
        let sent = service::outbound::send_template(
            db(ctx)?,
            viewer(ctx)?,
            id,
            template,
            &parameters,
            idempotency_key.as_deref(),
            now(ctx),
        )
        .await?;
        wake(ctx);
        Ok(Message(sent))
    }

    /// Asks the customer to share their phone number (WhatsApp's request-contact-info message).
    async fn request_phone_number(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        text: Option<String>,
        idempotency_key: Option<String>,
    ) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let sent = service::outbound::request_phone_number(
            db(ctx)?,
            viewer(ctx)?,
            id,
            text.as_deref(),
            idempotency_key.as_deref(),
            now(ctx),
        )
        .await?;
        wake(ctx);
        Ok(Message(sent))
    }

    /// The number to dial for an outbound call (the conversation's, else its contact's).
    async fn start_call(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Call> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let call = service::outbound::start_call(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?;
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
    async fn switch_channel(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        channel: enums::Channel,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved =
            service::outbound::switch_channel(db(ctx)?, viewer(ctx)?, id, channel.into(), now(ctx)).await?;
        Ok(Conversation(saved))
    }
}

/// A contact created from a conversation.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number, any common formatting; stored E.164.
    pub phone_number: Option<String>,
}

/// Linking conversations to CRM contacts.
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates a contact from a conversation (its username, BSUID and phone become the
    /// contact's identities) and links the conversation to it.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        input: CreateContactInput,
    ) -> Result<Contact> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let input = service::contacts::ContactInput {
            name: input.name,
            email: input.email,
            phone_number: input.phone_number,
        };
        let (contact, _) =
            service::contacts::create_contact(db(ctx)?, viewer(ctx)?, id, &input, now(ctx)).await?;
        Ok(Contact(contact))
    }

    /// Links a conversation to an existing contact (idempotent; relinking needs ADMIN).
    async fn link_to_existing(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        contact_id: ID,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let contact = parse_id::<ContactId>(&contact_id, "contactId")?;
        Ok(Conversation(
            service::contacts::link_to_existing(db(ctx)?, viewer(ctx)?, id, contact, now(ctx)).await?,
        ))
    }

    /// Unlinks a conversation from its contact (ADMIN, or the agent who linked it within 24 h).
    async fn unlink_contact(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        Ok(Conversation(service::contacts::unlink(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }
}

/// A business number's username as WhatsApp holds it.
#[derive(async_graphql::SimpleObject)]
pub struct BusinessUsername {
    /// The username.
    pub username: String,
    /// APPROVED (visible where usernames are live) or RESERVED.
    pub status: enums::BusinessUsernameStatus,
}

/// Business usernames (ADMIN).
#[derive(Default)]
pub struct UsernameMutation;

fn gateway<'a>(ctx: &Context<'a>) -> Result<&'a WhatsappGateway> {
    ctx.data::<WhatsappGateway>()
}

#[Object]
impl UsernameMutation {
    /// Adopts, changes or (with FORCE_TRANSFER) takes over from another number of the same
    /// portfolio the username of a business number (ADMIN). Errors carry `whatsappCode`:
    /// 100 (format rule), 147001 (unavailable), 147005 (transfer required)…
    #[graphql(guard = "RoleGuard::admin()")]
    async fn set_business_username(
        &self,
        ctx: &Context<'_>,
        business_number_id: ID,
        username: String,
        #[graphql(desc = "NONE (the default) or FORCE_TRANSFER.")] transfer_action: Option<
            enums::TransferAction,
        >,
    ) -> Result<BusinessUsername> {
        let id = parse_id::<BusinessNumberId>(&business_number_id, "businessNumberId")?;
        let saved = service::usernames::set(
            db(ctx)?,
            gateway(ctx)?,
            viewer(ctx)?,
            id,
            &username,
            transfer_action.map_or(domain::TransferAction::None, Into::into),
            now(ctx),
        )
        .await?;
        let status = saved
            .username_status
            .as_deref()
            .map(service::stored::<domain::BusinessUsernameStatus>)
            .transpose()?
            .ok_or_else(|| {
                crate::error::ApiError::internal(anyhow::anyhow!("username stored without status"))
            })?;
        Ok(BusinessUsername { username: saved.username.unwrap_or_default(), status: status.into() })
    }

    /// Deletes the username of a business number (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn delete_business_username(
        &self,
        ctx: &Context<'_>,
        business_number_id: ID,
    ) -> Result<BusinessNumber> {
        let id = parse_id::<BusinessNumberId>(&business_number_id, "businessNumberId")?;
        Ok(BusinessNumber(
            service::usernames::delete(db(ctx)?, gateway(ctx)?, viewer(ctx)?, id, now(ctx)).await?,
        ))
    }

    /// Sandbox mode: whether business usernames are live in the workspace's region, which
    /// makes new usernames APPROVED instead of RESERVED (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn set_business_usernames_live(&self, ctx: &Context<'_>, live: bool) -> Result<bool> {
        Ok(service::usernames::set_live(db(ctx)?, viewer(ctx)?, live).await?)
    }
}

/// A new CRM webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// An http(s) URL (private and loopback targets are refused unless allowed by configuration).
    pub url: String,
    /// Event types to send (empty: all).
    pub event_types: Vec<String>,
}

/// A created endpoint with its signing secret, shown only this once.
#[derive(async_graphql::SimpleObject)]
pub struct CreatedWebhookEndpoint {
    /// The endpoint.
    pub endpoint: super::types::WebhookEndpoint,
    /// `whsec_…`: verify the `webhook-signature` header with it (Standard Webhooks).
    pub secret: String,
}

/// CRM webhook endpoints (ADMIN).
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint that receives events from now on, signed per Standard Webhooks.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> Result<CreatedWebhookEndpoint> {
        let allow_private =
            ctx.data::<crate::dispatcher::DispatchConfig>().map(|c| c.allow_private_targets).unwrap_or(false);
        let (endpoint, secret) = service::webhooks::create(
            db(ctx)?,
            viewer(ctx)?,
            &input.url,
            &input.event_types,
            allow_private,
            now(ctx),
        )
        .await?;
        Ok(CreatedWebhookEndpoint { endpoint: super::types::WebhookEndpoint(endpoint), secret })
    }

    /// Deletes an endpoint and its delivery log.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id::<domain::WebhookEndpointId>(&id, "id")?;
        Ok(service::webhooks::delete(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?)
    }

    /// Resumes a paused endpoint; its queued deliveries continue in order.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn resume_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<super::types::WebhookEndpoint> {
        let id = parse_id::<domain::WebhookEndpointId>(&id, "id")?;
        Ok(super::types::WebhookEndpoint(
            service::webhooks::resume(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?,
        ))
    }

    /// Sends a delivery again, whatever its state.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        delivery_id: ID,
    ) -> Result<super::types::WebhookDelivery> {
        let id = parse_id::<domain::WebhookDeliveryId>(&delivery_id, "deliveryId")?;
        Ok(super::types::WebhookDelivery(
            service::webhooks::redeliver(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?,
        ))
    }
}
