//! SLA policies and their clocks (PRODUCT.md section 18).
//!
//! A conversation runs its policy's clocks: the first response from its opening, a next
//! response from each customer message that follows an agent message, the resolution from each
//! opening. An agent message (a reply, template or media; never a note or an away reply)
//! meets the first and next responses, resolving meets the resolution (and stops the response
//! clocks), snoozing pauses every clock and waking resumes it with its due time moved by the
//! paused time (in open hours when the policy counts business hours only). The [`Timer`]
//! writes `sla.warning` at 80% of a target's time and `sla.breached` at its due time, once per
//! target and cycle whatever the number of processes (`persistence::sla::claim`).

use chrono::{DateTime, Utc};
use domain::hours::BusinessHours;
use domain::routing::due_times;
use domain::{ConversationId, ConversationStatus, Direction, SlaPolicyId, SlaTarget};
use persistence::sla::{self, Due, NewClock, NewPolicy, SlaClock, SlaPolicy};
use persistence::{Announce, ConnectionTrait, Conversation, Database, Work, conversations, messages};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, emit};
use crate::workers::Next;

/// The longest target: a year.
pub const MAX_MINUTES: i32 = 525_600;

/// What `createSlaPolicy` takes.
#[derive(Clone, Debug, Default)]
pub struct PolicyInput {
    pub name: String,
    pub first_response_minutes: Option<i32>,
    pub next_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    pub business_hours_only: bool,
}

/// Creates a policy (admins, audited). Each target is optional, 1 to [`MAX_MINUTES`].
///
/// # Errors
/// `FORBIDDEN`, `BAD_USER_INPUT` naming the field, `CONFLICT` for a name the workspace has.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create_policy(
    db: &Database,
    viewer: &Viewer,
    input: PolicyInput,
    now: DateTime<Utc>,
) -> ApiResult<SlaPolicy> {
    viewer.require_admin()?;
    let name = crate::input::valid_name("name", &input.name)?;
    for (field, minutes) in [
        ("firstResponseMinutes", input.first_response_minutes),
        ("nextResponseMinutes", input.next_response_minutes),
        ("resolutionMinutes", input.resolution_minutes),
    ] {
        if minutes.is_some_and(|m| !(1..=MAX_MINUTES).contains(&m)) {
            return Err(ApiError::bad_input(format!("{field} must be 1 to {MAX_MINUTES} minutes")));
        }
    }
    db.write(async |txn| {
        let new = NewPolicy {
            workspace_id: viewer.workspace_id,
            name: &name,
            first_response_minutes: input.first_response_minutes,
            next_response_minutes: input.next_response_minutes,
            resolution_minutes: input.resolution_minutes,
            business_hours_only: input.business_hours_only,
        };
        let saved = sla::create_policy(txn, new, now).await?;
        let details = serde_json::json!({
            "name": name,
            "firstResponseMinutes": saved.first_response_minutes,
            "nextResponseMinutes": saved.next_response_minutes,
            "resolutionMinutes": saved.resolution_minutes,
            "businessHoursOnly": saved.business_hours_only,
        });
        crate::store::audit(txn, viewer, "sla_policy.created", ("sla_policy", saved.id), details, now)
            .await?;
        Ok(saved)
    })
    .await
}

/// The workspace's policies, by name.
///
/// # Errors
/// Storage failures.
pub async fn policies(db: &Database, viewer: &Viewer) -> ApiResult<Vec<SlaPolicy>> {
    Ok(sla::policies(db.conn(), viewer.workspace_id).await?)
}

/// Puts a conversation under `policy` (`None`: under none) and restarts its clocks (admins,
/// audited). Applying the policy it has changes nothing.
///
/// # Errors
/// `FORBIDDEN`, `NOT_FOUND` for a conversation or policy not of the workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn apply_policy(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    policy: Option<SlaPolicyId>,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let current = conversations::find_for_update(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("conversation"))?;
        let policy = match policy {
            Some(p) => Some(
                sla::policy(txn, viewer.workspace_id, p).await?.ok_or(ApiError::NotFound("SLA policy"))?,
            ),
            None => None,
        };
        if current.sla_policy_id == policy.as_ref().map(|p| p.id) {
            return Ok(current);
        }
        let saved = set_policy(txn, current, policy.as_ref(), now).await?;
        let details = serde_json::json!({ "policyId": saved.sla_policy_id });
        crate::store::audit(
            txn,
            viewer,
            "conversation.sla_applied",
            ("conversation", saved.id),
            details,
            now,
        )
        .await?;
        Ok(saved)
    })
    .await
}

/// Puts `conversation` under `policy` (or none): its open clocks stop, the policy's start as
/// the conversation stands (first response if no agent has written, next response if the
/// customer wrote last after an agent, resolution unless resolved; paused if snoozed).
///
/// # Errors
/// On a database failure.
pub async fn set_policy(
    db: &impl Announce,
    conversation: Conversation,
    policy: Option<&SlaPolicy>,
    now: DateTime<Utc>,
) -> Result<Conversation, persistence::Error> {
    sla::stop(db, conversation.id, None, "policy_changed", now).await?;
    let saved = sla::set_policy_of(db, conversation, policy.map(|p| p.id), now).await?;
    if let Some(policy) = policy {
        let hours = hours_for(db, &saved, policy).await?;
        let agent = sla::latest_by_agent(db, saved.id).await?;
        let customer = messages::latest_in(db, saved.id, Some(Direction::Inbound)).await?;
        if agent.is_none() {
            // From the customer's first message (the opening of one an agent started).
            let opened = sla::first_customer_message_at(db, saved.id).await?.unwrap_or(saved.created_at);
            start(db, &saved, policy, SlaTarget::FirstResponse, opened, hours.as_ref()).await?;
        }
        if let (Some(agent), Some(customer)) = (&agent, &customer)
            && customer.created_at > *agent
        {
            start(db, &saved, policy, SlaTarget::NextResponse, customer.sent_at, hours.as_ref()).await?;
        }
        if saved.status != ConversationStatus::Resolved {
            start(db, &saved, policy, SlaTarget::Resolution, saved.created_at, hours.as_ref()).await?;
        }
        if saved.status == ConversationStatus::Snoozed {
            sla::pause(db, saved.id, now).await?;
        }
    }
    sla::refresh(db, saved.id).await?;
    reload(db, saved).await
}

/// The conversation joined `team`: it takes the team's policy (if the team has one and it is
/// not the conversation's already).
///
/// # Errors
/// On a database failure.
pub async fn joined_team(
    db: &impl Announce,
    conversation: Conversation,
    now: DateTime<Utc>,
) -> Result<Conversation, persistence::Error> {
    let Some(team) = conversation.team_id else { return Ok(conversation) };
    let Some(team) = persistence::teams::find(db, conversation.workspace_id, team).await? else {
        return Ok(conversation);
    };
    let Some(policy_id) = team.sla_policy_id.filter(|p| conversation.sla_policy_id != Some(*p)) else {
        return Ok(conversation);
    };
    let policy = sla::policy(db, conversation.workspace_id, policy_id).await?;
    set_policy(db, conversation, policy.as_ref(), now).await
}

/// An agent's message: it meets the first and next responses.
///
/// # Errors
/// On a database failure.
pub async fn agent_wrote(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    if conversation.sla_policy_id.is_none() {
        return Ok(());
    }
    if sla::meet(db, conversation.id, &[SlaTarget::FirstResponse, SlaTarget::NextResponse], now).await? > 0 {
        sla::refresh(db, conversation.id).await?;
    }
    Ok(())
}

/// A customer's message at `at`: a snoozed clock resumes (the conversation is open again),
/// a reopened conversation starts a resolution, and a message after an agent's starts a next
/// response.
///
/// # Errors
/// On a database failure.
pub async fn customer_wrote(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
    reopened: bool,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let Some(policy) = policy_of(db, conversation).await? else { return Ok(()) };
    let hours = hours_for(db, conversation, &policy).await?;
    let open = sla::open_clocks(db, conversation.id).await?;
    resume(db, &open, hours.as_ref(), now).await?;
    if reopened && !open.iter().any(|c| c.target == SlaTarget::Resolution) {
        start(db, conversation, &policy, SlaTarget::Resolution, at, hours.as_ref()).await?;
    }
    let waiting_reply =
        open.iter().any(|c| matches!(c.target, SlaTarget::FirstResponse | SlaTarget::NextResponse));
    if !waiting_reply && sla::latest_by_agent(db, conversation.id).await?.is_some() {
        start(db, conversation, &policy, SlaTarget::NextResponse, at, hours.as_ref()).await?;
    }
    sla::refresh(db, conversation.id).await
}

/// The conversation's status changed from `before` (resolve, reopen, snooze, wake).
///
/// # Errors
/// On a database failure.
pub async fn status_changed(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
    before: ConversationStatus,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    let Some(policy) = policy_of(db, conversation).await? else { return Ok(()) };
    match (before, conversation.status) {
        (_, ConversationStatus::Resolved) => {
            sla::meet(db, conversation.id, &[SlaTarget::Resolution], now).await?;
            sla::stop(db, conversation.id, None, "resolved", now).await?;
        }
        (_, ConversationStatus::Snoozed) => {
            sla::pause(db, conversation.id, now).await?;
        }
        (ConversationStatus::Resolved, ConversationStatus::Open) => {
            let hours = hours_for(db, conversation, &policy).await?;
            start(db, conversation, &policy, SlaTarget::Resolution, now, hours.as_ref()).await?;
        }
        (_, ConversationStatus::Open) => {
            let hours = hours_for(db, conversation, &policy).await?;
            resume(db, &sla::open_clocks(db, conversation.id).await?, hours.as_ref(), now).await?;
        }
    }
    sla::refresh(db, conversation.id).await
}

/// Resumes the paused clocks among the conversation's `open` clocks at `now`: each keeps the
/// time it had left (open time when it counts business hours only).
async fn resume(
    db: &impl ConnectionTrait,
    open: &[SlaClock],
    hours: Option<&BusinessHours>,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    for clock in open.iter().filter(|c| c.paused_at.is_some()) {
        let Some(since) = clock.paused_at else { continue };
        let moved = |at: Option<DateTime<Utc>>| -> Option<DateTime<Utc>> {
            let at = at?;
            if at <= since {
                return Some(at);
            }
            match hours.filter(|_| clock.business_hours_only) {
                Some(hours) => hours.after_open_time(now, hours.open_time_between(since, at)),
                None => Some(now + (at - since)),
            }
        };
        sla::resume(db, clock, moved(clock.warn_at), moved(clock.due_at)).await?;
    }
    Ok(())
}

async fn start(
    db: &impl ConnectionTrait,
    conversation: &Conversation,
    policy: &SlaPolicy,
    target: SlaTarget,
    at: DateTime<Utc>,
    hours: Option<&BusinessHours>,
) -> Result<(), persistence::Error> {
    let minutes = match target {
        SlaTarget::FirstResponse => policy.first_response_minutes,
        SlaTarget::NextResponse => policy.next_response_minutes,
        SlaTarget::Resolution => policy.resolution_minutes,
    };
    let Some(minutes) = minutes else { return Ok(()) };
    let (warn_at, due_at) = due_times(at, minutes, hours);
    let new = NewClock {
        target,
        minutes,
        business_hours_only: policy.business_hours_only,
        started_at: at,
        warn_at,
        due_at,
    };
    sla::start(db, conversation, policy.id, new).await?;
    Ok(())
}

pub(crate) async fn policy_of(
    db: &impl ConnectionTrait,
    c: &Conversation,
) -> Result<Option<SlaPolicy>, persistence::Error> {
    match c.sla_policy_id {
        Some(id) => sla::policy(db, c.workspace_id, id).await,
        None => Ok(None),
    }
}

/// The schedule the policy's clocks count in (`None`: wall-clock).
pub(crate) async fn hours_for(
    db: &impl ConnectionTrait,
    c: &Conversation,
    policy: &SlaPolicy,
) -> Result<Option<BusinessHours>, persistence::Error> {
    if !policy.business_hours_only {
        return Ok(None);
    }
    persistence::hours::of(db, c.workspace_id).await
}

async fn reload(db: &impl ConnectionTrait, c: Conversation) -> Result<Conversation, persistence::Error> {
    Ok(conversations::find(db, c.workspace_id, c.id).await?.unwrap_or(c))
}

/// How many clocks one pass handles (each kind).
const BATCH: u64 = 100;

/// Writes `sla.warning` and `sla.breached` as they fall due.
#[derive(Clone, Debug)]
pub struct Timer {
    pub db: Database,
    pub due: crate::workers::DueMemo,
}

impl crate::workers::Worker for Timer {
    const NAME: &'static str = "sla";
    const WAKES: &'static [Work] = &[];

    async fn pass(&self, now: DateTime<Utc>) -> Result<Next, persistence::Error> {
        let read = || sla::next_due(self.db.conn());
        self.due.pass(&self.db, now, read, || warn_and_breach(&self.db, now)).await
    }
}

/// One batch of [`Timer`] at `now`, in one transaction: breaches, then warnings; returns how
/// many clocks it claimed.
///
/// # Errors
/// On a database failure.
pub async fn warn_and_breach(db: &Database, now: DateTime<Utc>) -> Result<usize, persistence::Error> {
    db.write(async |txn| {
        let breached = sla::claim(txn, Due::Breach, now, BATCH).await?;
        for clock in &breached {
            emit(txn, Event::SlaBreached { clock }, now).await?;
            sla::refresh(txn, clock.conversation_id).await?;
        }
        let warned = sla::claim(txn, Due::Warning, now, BATCH).await?;
        for clock in &warned {
            emit(txn, Event::SlaWarning { clock }, now).await?;
        }
        Ok(breached.len() + warned.len())
    })
    .await
}
