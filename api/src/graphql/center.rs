//! Running a contact center (PRODUCT.md section 18): availability, team routing, a number's
//! default team, business hours and the workspace's open state, SLA policies.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use domain::{AgentId, BusinessNumberId, ConversationId, SlaPolicyId, TeamId};
use persistence::teams::TeamChange;

use super::center_types::{BusinessHours, Date, Opening, RoutingMode, SlaPolicy, Workspace};
use super::context::{db, now, parse_id, viewer};
use super::conversations::{Conversation, Team};
use super::enums::Availability;
use super::guards::RoleGuard;
use super::setup::{Agent, BusinessNumber};
use crate::error::ApiError;
use crate::workflow::hours::{self, HoursInput};
use crate::workflow::routing::{self, PresenceGrace};
use crate::workflow::sla::{self, PolicyInput};

/// A team's routing to set.
#[derive(InputObject)]
pub struct RoutingInput {
    /// MANUAL, ROUND_ROBIN or LEAST_BUSY.
    pub mode: RoutingMode,
    /// 1 to 10,000 open conversations per member; null or absent: no limit.
    pub capacity: Option<i32>,
}

/// What `updateTeam` changes; a field left out keeps its value.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// A new name (unique in the workspace, ignoring case).
    pub name: Option<String>,
    /// Its router's mode and capacity.
    pub routing: Option<RoutingInput>,
    /// The policy a conversation joining the team takes (null: none).
    pub sla_policy_id: MaybeUndefined<ID>,
}

/// What `updateBusinessNumber` changes.
#[derive(InputObject)]
pub struct UpdateBusinessNumberInput {
    /// The team a new conversation on the number joins (null: none).
    pub default_team_id: MaybeUndefined<ID>,
}

/// Business hours to set.
#[derive(InputObject)]
pub struct BusinessHoursInput {
    /// IANA time zone, e.g. `Europe/Madrid`.
    pub time_zone: String,
    /// At most 366 openings; empty: always open.
    pub weekly: Vec<Opening>,
    /// At most 366 dates.
    #[graphql(default)]
    pub closed_dates: Vec<Date>,
    /// 1 to 1,024 characters; absent: no away reply.
    pub away_message: Option<String>,
}

/// What `createSlaPolicy` takes.
#[derive(InputObject)]
pub struct CreateSlaPolicyInput {
    /// A name unique in the workspace (ignoring case).
    pub name: String,
    /// 1 to 525,600 minutes.
    pub first_response_minutes: Option<i32>,
    /// 1 to 525,600 minutes.
    pub next_response_minutes: Option<i32>,
    /// 1 to 525,600 minutes.
    pub resolution_minutes: Option<i32>,
    /// Count only time inside business hours (default false).
    #[graphql(default)]
    pub business_hours_only: bool,
}

/// The contact center's queries.
#[derive(Default)]
pub struct CenterQuery;

#[Object]
impl CenterQuery {
    /// The viewer's workspace, open now or not.
    async fn workspace(&self, ctx: &Context<'_>) -> Result<Workspace> {
        let viewer = viewer(ctx)?;
        let db = db(ctx)?;
        let row = persistence::workspaces::find(db.conn(), viewer.workspace_id)
            .await
            .map_err(ApiError::from)?
            .ok_or(ApiError::NotFound("workspace"))?;
        let hours = hours::business_hours(db, viewer).await?;
        Ok(Workspace { row, hours, now: now(ctx) })
    }

    /// The workspace's business hours (null: always open).
    async fn business_hours(&self, ctx: &Context<'_>) -> Result<Option<BusinessHours>> {
        Ok(hours::business_hours(db(ctx)?, viewer(ctx)?).await?.as_ref().map(Into::into))
    }

    /// The workspace's SLA policies, by name.
    async fn sla_policies(&self, ctx: &Context<'_>) -> Result<Vec<SlaPolicy>> {
        Ok(sla::policies(db(ctx)?, viewer(ctx)?).await?.into_iter().map(SlaPolicy).collect())
    }
}

/// The contact center's mutations.
#[derive(Default)]
pub struct CenterMutation;

#[Object]
impl CenterMutation {
    /// Sets an agent's availability: the viewer's own (no `agentId`, or its own), or (ADMIN)
    /// anyone's; another's is `FORBIDDEN` for an agent. Event `agent.availability_changed`.
    async fn set_availability(
        &self,
        ctx: &Context<'_>,
        availability: Availability,
        agent_id: Option<ID>,
    ) -> Result<Agent> {
        let agent = agent_id.as_ref().map(|id| parse_id::<AgentId>(id, "agentId")).transpose()?;
        let grace = ctx.data_opt::<PresenceGrace>().map_or(routing::DEFAULT_PRESENCE_GRACE, |g| g.0);
        let saved =
            routing::set_availability(db(ctx)?, viewer(ctx)?, agent, availability.into(), grace, now(ctx))
                .await?;
        Ok(Agent(saved))
    }

    /// Renames a team, sets its routing or its SLA policy (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_team(&self, ctx: &Context<'_>, id: ID, input: UpdateTeamInput) -> Result<Team> {
        let id = parse_id::<TeamId>(&id, "id")?;
        let sla_policy = match input.sla_policy_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(p) => Some(Some(parse_id::<SlaPolicyId>(&p, "slaPolicyId")?)),
        };
        let change = TeamChange {
            name: input.name,
            routing: input.routing.map(|r| (r.mode.into(), r.capacity)),
            sla_policy,
        };
        Ok(Team(routing::update_team(db(ctx)?, viewer(ctx)?, id, change, now(ctx)).await?))
    }

    /// Sets a number's default team (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_business_number(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateBusinessNumberInput,
    ) -> Result<BusinessNumber> {
        let id = parse_id::<BusinessNumberId>(&id, "id")?;
        let db = db(ctx)?;
        let viewer = viewer(ctx)?;
        let team = match input.default_team_id {
            MaybeUndefined::Undefined => {
                let number = persistence::business_numbers::find(db.conn(), viewer.workspace_id, id)
                    .await
                    .map_err(ApiError::from)?
                    .ok_or(ApiError::NotFound("business number"))?;
                return Ok(BusinessNumber(number));
            }
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(t) => Some(parse_id::<TeamId>(&t, "defaultTeamId")?),
        };
        Ok(BusinessNumber(routing::set_default_team(db, viewer, id, team, now(ctx)).await?))
    }

    /// Replaces the business hours (ADMIN, audited); null: always open.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn update_business_hours(
        &self,
        ctx: &Context<'_>,
        input: Option<BusinessHoursInput>,
    ) -> Result<Option<BusinessHours>> {
        let schedule = match input {
            Some(input) => Some(hours::schedule(HoursInput {
                time_zone: input.time_zone,
                weekly: input.weekly.into_iter().map(|o| (o.day.into(), o.opens, o.closes)).collect(),
                closed_dates: input.closed_dates.into_iter().map(|d| d.0).collect(),
                away_message: input.away_message,
            })?),
            None => None,
        };
        let saved = hours::update_business_hours(db(ctx)?, viewer(ctx)?, schedule, now(ctx)).await?;
        Ok(saved.as_ref().map(Into::into))
    }

    /// Creates an SLA policy (ADMIN); each target optional. `CONFLICT` for a name the
    /// workspace has.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_sla_policy(&self, ctx: &Context<'_>, input: CreateSlaPolicyInput) -> Result<SlaPolicy> {
        let input = PolicyInput {
            name: input.name,
            first_response_minutes: input.first_response_minutes,
            next_response_minutes: input.next_response_minutes,
            resolution_minutes: input.resolution_minutes,
            business_hours_only: input.business_hours_only,
        };
        Ok(SlaPolicy(sla::create_policy(db(ctx)?, viewer(ctx)?, input, now(ctx)).await?))
    }

    /// Puts a conversation under an SLA policy (null: under none) and restarts its clocks
    /// (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn apply_sla_policy(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        policy_id: Option<ID>,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let policy = policy_id.as_ref().map(|p| parse_id::<SlaPolicyId>(p, "policyId")).transpose()?;
        Ok(Conversation(sla::apply_policy(db(ctx)?, viewer(ctx)?, id, policy, now(ctx)).await?))
    }
}
