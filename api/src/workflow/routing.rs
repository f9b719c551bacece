//! Availability, presence and the team router (PRODUCT.md section 18).
//!
//! - [`set_availability`]: an agent sets its own (an admin anyone's); `agent.availability_changed`.
//! - Presence (`crate::graphql::session::Presence`): while an agent has a WebSocket open, it
//!   stays present (`PARLEY_PRESENCE_GRACE` ahead, renewed at half of it); an agent whose
//!   sockets all closed counts as `OFFLINE` for routing once the grace runs out.
//! - [`Router`]: assigns each waiting conversation of a routed team to a member who takes work
//!   (see `persistence::routing`), woken by every commit that may fill a queue or make room
//!   (a conversation opened, resolved, snoozed, reassigned; an agent online or present; a
//!   member added; a team's routing changed), oldest first. Each automatic assignment is audited
//!   with actor `system` and emits `conversation.assigned` (`automatic: true`) and
//!   `conversation.updated`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::{AgentId, Availability};
use persistence::{Agent, Database, Work, routing};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, emit};
use crate::workers::Next;

pub use crate::config::DEFAULT_PRESENCE_GRACE;

/// The configured presence grace (`PARLEY_PRESENCE_GRACE`), for the resolvers.
#[derive(Clone, Copy, Debug)]
pub struct PresenceGrace(pub Duration);

/// Sets `agent`'s availability (the viewer's own when `None`). Setting one's own also counts
/// as presence (the agent is at the keyboard). A change emits `agent.availability_changed`.
///
/// # Errors
/// `FORBIDDEN` for an agent setting another's, `NOT_FOUND` for an agent not of the workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn set_availability(
    db: &Database,
    viewer: &Viewer,
    agent: Option<AgentId>,
    availability: Availability,
    grace: Duration,
    now: DateTime<Utc>,
) -> ApiResult<Agent> {
    let agent = agent.unwrap_or(viewer.agent_id);
    if agent != viewer.agent_id {
        viewer
            .require_admin()
            .map_err(|_| ApiError::Forbidden("only an admin may set another agent's availability"))?;
    }
    let present =
        (agent == viewer.agent_id).then(|| now + chrono::Duration::from_std(grace).unwrap_or_default());
    db.write(async |txn| {
        let before = persistence::agents::find(txn, viewer.workspace_id, agent)
            .await?
            .ok_or(ApiError::NotFound("agent"))?;
        let saved = routing::set_availability(txn, viewer.workspace_id, agent, availability, present)
            .await?
            .ok_or(ApiError::NotFound("agent"))?;
        if before.availability != availability {
            let event = Event::AvailabilityChanged {
                agent: &saved,
                previous: before.availability,
                by: viewer.agent_id,
            };
            emit(txn, event, now).await?;
        }
        Ok(saved)
    })
    .await
}

/// The largest team capacity.
pub const MAX_CAPACITY: i32 = 10_000;

/// Changes a team's name, routing or SLA policy (admins, audited as `team.updated` with the
/// change).
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND` for a team or policy not of the workspace, `BAD_USER_INPUT` for a
/// bad name or capacity, `CONFLICT` for a name the workspace has.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, team_id = %id))]
pub async fn update_team(
    db: &Database,
    viewer: &Viewer,
    id: domain::TeamId,
    mut change: persistence::teams::TeamChange,
    now: DateTime<Utc>,
) -> ApiResult<persistence::Team> {
    viewer.require_admin()?;
    if let Some(name) = &change.name {
        change.name = Some(crate::input::valid_name("name", name)?);
    }
    if let Some((_, Some(capacity))) = change.routing
        && !(1..=MAX_CAPACITY).contains(&capacity)
    {
        return Err(ApiError::bad_input(format!(
            "capacity must be 1 to {MAX_CAPACITY}, or null for no limit"
        )));
    }
    db.write(async |txn| {
        let team = persistence::teams::find(txn, viewer.workspace_id, id).await?.ok_or(ApiError::NotFound("team"))?;
        if let Some(Some(policy)) = change.sla_policy {
            persistence::sla::policy(txn, viewer.workspace_id, policy).await?.ok_or(ApiError::NotFound("SLA policy"))?;
        }
        let details = serde_json::json!({
            "name": change.name,
            "routing": change.routing.map(|(mode, capacity)| serde_json::json!({ "mode": mode.as_str(), "capacity": capacity })),
            "slaPolicyId": change.sla_policy,
        });
        let saved = persistence::teams::update(txn, team, change).await?;
        crate::store::audit(txn, viewer, "team.updated", ("team", saved.id), details, now).await?;
        Ok(saved)
    })
    .await
}

/// Sets the team a new conversation on a number joins (admins, audited).
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND` for a number or team not of the workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, business_number_id = %id))]
pub async fn set_default_team(
    db: &Database,
    viewer: &Viewer,
    id: domain::BusinessNumberId,
    team: Option<domain::TeamId>,
    now: DateTime<Utc>,
) -> ApiResult<persistence::BusinessNumber> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let number = persistence::business_numbers::find(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("business number"))?;
        if let Some(team) = team {
            persistence::teams::find(txn, viewer.workspace_id, team)
                .await?
                .ok_or(ApiError::NotFound("team"))?;
        }
        let saved = persistence::business_numbers::set_default_team(txn, number, team, now).await?;
        let details = serde_json::json!({ "defaultTeamId": team });
        crate::store::audit(
            txn,
            viewer,
            "business_number.updated",
            ("business_number", saved.id),
            details,
            now,
        )
        .await?;
        Ok(saved)
    })
    .await
}

/// How many conversations one routing pass assigns at most.
const BATCH: usize = 200;

/// Assigns waiting conversations as members have room.
///
/// Only a commit announcing [`Work::Route`] (here, or relayed from another process) can give
/// it work: time alone never frees room (a presence that lapses only takes it away). So
/// between such commits it trusts its last "nothing to do" for up to
/// [`crate::workers::MEMO_FOR`], and an idle server's safety polls read nothing.
#[derive(Debug)]
pub struct Router {
    db: Database,
    /// A permit after every commit that announced routing work.
    announced: Arc<tokio::sync::Notify>,
    /// When it last found nothing to do.
    idle_since: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Router {
    #[must_use]
    pub fn new(db: Database) -> Self {
        let announced = db.wakeups(&[Work::Route]);
        Self { db, announced, idle_since: std::sync::Mutex::new(None) }
    }

    fn idle_since(&self) -> std::sync::MutexGuard<'_, Option<std::time::Instant>> {
        self.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl crate::workers::Worker for Router {
    const NAME: &'static str = "router";
    const WAKES: &'static [Work] = &[Work::Route];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        use futures::FutureExt as _;
        let announced = self.announced.notified().now_or_never().is_some();
        let trusted = self.idle_since().is_some_and(|at| at.elapsed() < crate::workers::MEMO_FOR);
        if trusted && !announced {
            return Ok(Next::Idle);
        }
        if !routing::has_work(self.db.conn(), now).await? {
            *self.idle_since() = Some(std::time::Instant::now());
            return Ok(Next::Idle);
        }
        *self.idle_since() = None;
        Ok(if route_due(&self.db, now).await? > 0 { Next::Again } else { Next::Idle })
    }
}

/// One routing pass at `now`, in one transaction; returns how many conversations it assigned.
///
/// # Errors
/// On a database failure.
pub async fn route_due(db: &Database, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
    db.write(async |txn| {
        let assigned = routing::route(txn, now, BATCH).await?;
        for a in &assigned {
            let c = &a.conversation;
            emit(txn, Event::ConversationUpdated(c), now).await?;
            let event = Event::ConversationAssigned {
                conversation: c,
                agent: Some(a.agent),
                team: Some(a.team),
                automatic: true,
            };
            emit(txn, event, now).await?;
            let entry = persistence::audit::Entry {
                agent: None,
                action: "conversation.assigned",
                subject_type: "conversation",
                subject_id: c.id.into(),
                details: Some(
                    serde_json::json!({ "assigneeId": a.agent, "teamId": a.team, "automatic": true }),
                ),
            };
            persistence::audit::record(txn, c.workspace_id, entry, now).await?;
        }
        Ok(assigned.len())
    })
    .await
}
