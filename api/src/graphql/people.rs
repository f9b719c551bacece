//! The people of a workspace as the API shows them: agents and the teams they form.

use async_graphql::{Context, ID, Object, Result};

use super::context::loaders_of;
use super::enums;
use super::loaders::{AgentKey, TeamMembersKey};
use crate::error::ApiError;

/// A person or integration that calls the API.
pub struct Agent(pub persistence::Agent);

/// A person or integration that calls the API.
#[Object]
impl Agent {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address.
    async fn email(&self) -> &str {
        self.0.email.as_str()
    }

    /// Role; read from the database on every request.
    async fn role(&self) -> enums::Role {
        self.0.role.into()
    }

    /// Inactive agents cannot call the API.
    async fn active(&self) -> bool {
        self.0.active
    }

    /// Whether the agent takes new conversations (routing also needs an open WebSocket within
    /// `PARLEY_PRESENCE_GRACE` for ONLINE).
    async fn availability(&self) -> enums::Availability {
        self.0.availability.into()
    }

    /// The agent's workspace.
    async fn workspace_id(&self) -> ID {
        ID(self.0.workspace_id.to_string())
    }
}

/// A team of agents conversations are routed to.
pub struct Team(pub persistence::Team);

/// A team of agents conversations are routed to (names unique per workspace, ignoring case).
#[Object]
impl Team {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name, as created.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// How its router assigns waiting conversations.
    async fn routing(&self) -> super::center_types::Routing {
        super::center_types::routing(&self.0)
    }

    /// How many conversations wait in its queue (open, in the team, assigned to no one).
    async fn queue(&self, ctx: &Context<'_>) -> Result<i64> {
        super::center_types::queue(ctx, self.0.id).await
    }

    /// The SLA policy a conversation joining the team takes.
    async fn sla_policy(&self, ctx: &Context<'_>) -> Result<Option<super::center_types::SlaPolicy>> {
        super::center_types::load_policy(ctx, self.0.sla_policy_id).await
    }

    /// Its agents, in the order they joined.
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<Agent>> {
        let loader = loaders_of(ctx)?;
        let ids =
            loader.load_one(TeamMembersKey(self.0.id)).await.map_err(ApiError::from)?.unwrap_or_default();
        let agents = loader.load_many(ids.iter().copied().map(AgentKey)).await.map_err(ApiError::from)?;
        Ok(ids.iter().filter_map(|id| agents.get(&AgentKey(*id)).cloned().map(Agent)).collect())
    }
}
