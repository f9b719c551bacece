//! Mutations, split per feature and merged into [`super::Mutation`]. Each calls one use case.

use async_graphql::{Context, ID, InputObject, Object, Result};
use domain::{ConversationId, ConversationStatus};

use super::guards::RoleGuard;
use super::query::parse_agent_id;
use super::types::{Agent, Conversation, Template};
use super::{db, enums, now, parse_id, viewer};
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
