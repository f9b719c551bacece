//! Setting up: the viewer (`me`), agents (create, update), business numbers and templates.

use super::context::{db, now, parse_id, viewer};
use super::enums;
use super::guards::RoleGuard;
use crate::error::ApiError;
use crate::setup::templates::TemplateInput;
use async_graphql::{Context, ID, InputObject, Object, Result};
use domain::{AgentId, BusinessNumberId};

pub use super::people::Agent;

/// A business phone number of the workspace (WhatsApp or SMS).
pub struct BusinessNumber(pub persistence::BusinessNumber);

/// A business phone number of the workspace: a WhatsApp number (Meta's ids) or an SMS
/// number. Its credentials are never returned.
#[Object]
impl BusinessNumber {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Meta's `phone_number_id` (an SMS number: its E.164 number).
    async fn phone_number_id(&self) -> &str {
        &self.0.phone_number_id
    }

    /// WHATSAPP or SMS.
    async fn channel(&self) -> enums::Channel {
        self.0.channel.into()
    }

    /// False once disconnected: its conversations stay readable, every action is denied.
    async fn connected(&self) -> bool {
        self.0.connected
    }

    /// Whether it sends with credentials of its own, for either channel: a WhatsApp number's
    /// own Cloud API access token (else the operator's `PARLEY_WHATSAPP_ACCESS_TOKEN`), an SMS
    /// number's own account SID and auth token (else the default sender). Secrets are never
    /// returned.
    async fn has_own_credentials(&self) -> bool {
        own_credentials(&self.0)
    }

    /// The same answer as `hasOwnCredentials` (an SMS number's auth token counts too).
    #[graphql(deprecation = "Use hasOwnCredentials: the same answer, named for both channels.")]
    async fn has_own_access_token(&self) -> bool {
        own_credentials(&self.0)
    }

    /// An SMS number's provider account SID.
    async fn account_sid(&self) -> Option<&str> {
        self.0.sms_account_sid.as_deref()
    }

    /// The number customers see, E.164.
    async fn display_phone_number(&self) -> &str {
        self.0.display_phone_number.as_str()
    }

    /// The WhatsApp Business Account id (null for an SMS number).
    async fn waba_id(&self) -> Option<&str> {
        Some(self.0.waba_id.as_str()).filter(|id| !id.is_empty())
    }

    /// The business portfolio id, BSUIDs are scoped to it (null for an SMS number).
    async fn portfolio_id(&self) -> Option<&str> {
        Some(self.0.portfolio_id.as_str()).filter(|id| !id.is_empty())
    }

    /// The business username, if any.
    async fn username(&self) -> Option<&str> {
        self.0.username.as_ref().map(domain::BusinessUsername::as_str)
    }

    /// The team a new conversation on this number joins.
    async fn default_team(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<super::people::Team>> {
        let Some(id) = self.0.default_team_id else { return Ok(None) };
        let loaded = super::context::loaders_of(ctx)?
            .load_one(super::loaders::TeamKey(id))
            .await
            .map_err(ApiError::from)?;
        Ok(loaded.map(super::people::Team))
    }

    /// The business username's status.
    async fn username_status(&self) -> Option<enums::BusinessUsernameStatus> {
        self.0.username_status.map(Into::into)
    }
}

/// A message template.
pub struct Template(pub persistence::Template);

/// A message template.
#[Object]
impl Template {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// WhatsApp template name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Language code, such as `en_US`.
    async fn language(&self) -> &str {
        &self.0.language
    }

    /// Category (decides when it may be sent).
    async fn category(&self) -> enums::TemplateCategory {
        self.0.category.into()
    }

    /// Body with `{{1}}`-style parameters.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// How many `{{n}}` parameters the body takes.
    async fn parameter_count(&self) -> i32 {
        i32::try_from(domain::content::parameter_count(&self.0.body)).unwrap_or(i32::MAX)
    }

    /// Where WhatsApp's review stands: only `APPROVED` templates can be sent.
    async fn status(&self) -> enums::TemplateStatus {
        self.0.status.into()
    }

    /// WhatsApp's quality rating (`UNKNOWN` until rated).
    async fn quality_score(&self) -> enums::TemplateQuality {
        self.0.quality.into()
    }

    /// WhatsApp's reason, for a rejected template.
    async fn rejected_reason(&self) -> Option<&str> {
        self.0.rejected_reason.as_deref()
    }

    /// The WhatsApp number it was synced or submitted through (its WABA's templates); null for
    /// a template typed into Parley without a number.
    async fn business_number(&self, ctx: &Context<'_>) -> Result<Option<BusinessNumber>> {
        let Some(id) = self.0.business_number_id else { return Ok(None) };
        let found = persistence::business_numbers::find(db(ctx)?.conn(), self.0.workspace_id, id)
            .await
            .map_err(ApiError::from)?;
        Ok(found.map(BusinessNumber))
    }

    /// The WhatsApp Business Account it lives in (null: typed into Parley without a number).
    async fn waba_id(&self) -> Option<&str> {
        Some(self.0.waba_id.as_str()).filter(|w| !w.is_empty())
    }
}

/// The signed-in agent.
#[derive(Default)]
pub struct ViewerQuery;

#[Object]
impl ViewerQuery {
    /// The agent the token belongs to.
    async fn me(&self, ctx: &Context<'_>) -> Result<Agent> {
        Ok(Agent(crate::setup::agents::me(db(ctx)?, viewer(ctx)?).await?))
    }

    /// Every agent of the workspace.
    async fn agents(&self, ctx: &Context<'_>) -> Result<Vec<Agent>> {
        let rows = crate::setup::agents::list(db(ctx)?, viewer(ctx)?).await?;
        Ok(rows.into_iter().map(Agent).collect())
    }
}

/// Workspace set-up: templates and business numbers.
#[derive(Default)]
pub struct SetupQuery;

#[Object]
impl SetupQuery {
    /// The workspace's message templates.
    async fn templates(&self, ctx: &Context<'_>) -> Result<Vec<Template>> {
        let rows = crate::setup::templates::list(db(ctx)?, viewer(ctx)?).await?;
        Ok(rows.into_iter().map(Template).collect())
    }

    /// The workspace's WhatsApp business numbers.
    async fn business_numbers(&self, ctx: &Context<'_>) -> Result<Vec<BusinessNumber>> {
        let rows = crate::setup::workspaces::business_numbers(db(ctx)?, viewer(ctx)?).await?;
        Ok(rows.into_iter().map(BusinessNumber).collect())
    }
}

/// Parses an optional agent id argument.
pub(crate) fn parse_agent_id(id: Option<&ID>) -> Result<Option<AgentId>, ApiError> {
    id.map(|id| parse_id::<AgentId>(id, "agentId")).transpose()
}

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

/// What to change on an agent; an absent field is left as it is.
#[derive(InputObject)]
pub struct UpdateAgentInput {
    /// Display name.
    pub name: Option<String>,
    /// Role (the workspace keeps at least one active admin).
    pub role: Option<enums::Role>,
    /// `false` deactivates the agent: its tokens and open sockets stop working at once.
    pub active: Option<bool>,
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
    /// The WhatsApp number whose WABA it is submitted to for review (stored `PENDING` until
    /// WhatsApp decides). Without it, or for a sandbox number, the template is Parley's own
    /// and `APPROVED`.
    pub business_number_id: Option<ID>,
}

/// Workspace set-up (admins).
#[derive(Default)]
pub struct SetupMutation;

#[Object]
impl SetupMutation {
    /// Adds an agent to the workspace (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_agent(&self, ctx: &Context<'_>, input: CreateAgentInput) -> Result<Agent> {
        let agent = crate::setup::agents::create(
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

    /// Changes an agent's name, role or active flag (ADMIN; audited). `CONFLICT` when the
    /// change would leave the workspace without an active admin.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_agent(&self, ctx: &Context<'_>, id: ID, input: UpdateAgentInput) -> Result<Agent> {
        let id = parse_id::<AgentId>(&id, "id")?;
        let update = crate::setup::agents::AgentUpdate {
            name: input.name,
            role: input.role.map(Into::into),
            active: input.active,
        };
        Ok(Agent(crate::setup::agents::update(db(ctx)?, viewer(ctx)?, id, update, now(ctx)).await?))
    }

    /// Adds a message template (ADMIN). With `businessNumberId`, submits it to that number's
    /// WABA (`POST /{waba-id}/message_templates`) and stores it `PENDING`.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_template(&self, ctx: &Context<'_>, input: CreateTemplateInput) -> Result<Template> {
        let business_number = input
            .business_number_id
            .as_ref()
            .map(|id| parse_id::<BusinessNumberId>(id, "businessNumberId"))
            .transpose()?;
        let template_input = TemplateInput {
            name: &input.name,
            language: &input.language,
            category: input.category.into(),
            body: &input.body,
            business_number,
        };
        let cloud = super::context::cloud(ctx)?;
        let saved =
            crate::setup::templates::create(db(ctx)?, cloud, viewer(ctx)?, template_input, now(ctx)).await?;
        Ok(Template(saved))
    }

    /// Reads the number's WABA's templates from WhatsApp, page by page with the number's
    /// token, and stores them with their status, quality and category; templates WhatsApp no
    /// longer lists become `DISABLED` (ADMIN; audited). Returns the WABA's templates.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn sync_templates(&self, ctx: &Context<'_>, business_number_id: ID) -> Result<Vec<Template>> {
        let id = parse_id::<BusinessNumberId>(&business_number_id, "businessNumberId")?;
        let cloud = super::context::cloud(ctx)?;
        let rows = crate::setup::templates::sync(db(ctx)?, cloud, viewer(ctx)?, id, now(ctx)).await?;
        Ok(rows.into_iter().map(Template).collect())
    }
}

/// Whether a number sends with credentials of its own (its channel's kind).
fn own_credentials(number: &persistence::BusinessNumber) -> bool {
    match number.channel {
        domain::Channel::Whatsapp => number.access_token_sealed.is_some(),
        domain::Channel::Sms => number.sms_auth_token_sealed.is_some(),
    }
}
