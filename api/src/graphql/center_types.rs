//! The contact center's types (PRODUCT.md section 18): routing, business hours, the
//! workspace's open state, SLA policies and a conversation's SLA.

use async_graphql::{
    Context, Enum, ID, InputObject, Object, Result, Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{SlaPolicyId, TeamId};

use super::context::loaders_of;
use crate::error::ApiError;

/// How a team's router assigns its waiting conversations.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::RoutingMode")]
pub enum RoutingMode {
    /// No router: agents take conversations from the queue themselves.
    Manual,
    /// To the member with room assigned least recently by the router.
    RoundRobin,
    /// To the member with room with the fewest open conversations (ties: least recently).
    LeastBusy,
}

/// A target of an SLA policy.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "domain::SlaTarget")]
pub enum SlaTarget {
    /// The first agent message (reply, template or media; not a note, not an away reply)
    /// after the conversation opens.
    FirstResponse,
    /// The first agent message after a customer message that followed an agent message.
    NextResponse,
    /// Resolving the conversation.
    Resolution,
}

/// A day of the week.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
#[graphql(remote = "chrono::Weekday")]
pub enum Weekday {
    /// Monday.
    #[graphql(name = "MONDAY")]
    Mon,
    /// Tuesday.
    #[graphql(name = "TUESDAY")]
    Tue,
    /// Wednesday.
    #[graphql(name = "WEDNESDAY")]
    Wed,
    /// Thursday.
    #[graphql(name = "THURSDAY")]
    Thu,
    /// Friday.
    #[graphql(name = "FRIDAY")]
    Fri,
    /// Saturday.
    #[graphql(name = "SATURDAY")]
    Sat,
    /// Sunday.
    #[graphql(name = "SUNDAY")]
    Sun,
}

/// A calendar date, `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

/// A calendar date, `YYYY-MM-DD` (ISO 8601).
#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> async_graphql::InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(Date(s.parse::<NaiveDate>().map_err(|_| {
                async_graphql::InputValueError::custom(format!("{s:?} is not a date as YYYY-MM-DD"))
            })?)),
            _ => Err(async_graphql::InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// How a team's router works.
#[derive(SimpleObject)]
pub struct Routing {
    /// MANUAL, ROUND_ROBIN or LEAST_BUSY.
    pub mode: RoutingMode,
    /// The most open conversations the router gives one member (null: no limit).
    pub capacity: Option<i32>,
}

/// A team's routing.
pub(super) fn routing(team: &persistence::Team) -> Routing {
    Routing { mode: team.routing_mode.into(), capacity: team.capacity }
}

/// How many conversations wait in a team's queue.
pub(super) async fn queue(ctx: &Context<'_>, team: TeamId) -> Result<i64> {
    let loaded = loaders_of(ctx)?.load_one(super::loaders::QueueKey(team)).await.map_err(ApiError::from)?;
    Ok(loaded.unwrap_or(0))
}

/// An SLA policy by id, through the request's loader.
pub(super) async fn load_policy(ctx: &Context<'_>, id: Option<SlaPolicyId>) -> Result<Option<SlaPolicy>> {
    let Some(id) = id else { return Ok(None) };
    let loaded = loaders_of(ctx)?.load_one(super::loaders::SlaPolicyKey(id)).await.map_err(ApiError::from)?;
    Ok(loaded.map(SlaPolicy))
}

/// One weekly opening.
#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "OpeningInput")]
pub struct Opening {
    /// The day it opens on.
    pub day: Weekday,
    /// Local time `HH:MM`.
    pub opens: String,
    /// Local time `HH:MM`; at or before `opens`, the opening runs past midnight.
    pub closes: String,
}

/// The workspace's business hours.
#[derive(SimpleObject)]
pub struct BusinessHours {
    /// IANA time zone, e.g. `Europe/Madrid`.
    pub time_zone: String,
    /// The weekly openings; empty: always open.
    pub weekly: Vec<Opening>,
    /// Whole local days closed.
    pub closed_dates: Vec<Date>,
    /// Sent once per conversation per closed period to a customer writing while closed.
    pub away_message: Option<String>,
}

impl From<&domain::hours::BusinessHours> for BusinessHours {
    fn from(h: &domain::hours::BusinessHours) -> Self {
        Self {
            time_zone: h.time_zone.name().to_owned(),
            weekly: h
                .weekly
                .iter()
                .map(|o| Opening {
                    day: o.day.into(),
                    opens: o.opens.format("%H:%M").to_string(),
                    closes: o.closes.format("%H:%M").to_string(),
                })
                .collect(),
            closed_dates: h.closed_dates.iter().copied().map(Date).collect(),
            away_message: h.away_message.clone(),
        }
    }
}

/// The viewer's workspace.
pub struct Workspace {
    pub(super) row: persistence::Workspace,
    pub(super) hours: Option<domain::hours::BusinessHours>,
    pub(super) now: DateTime<Utc>,
}

/// The viewer's workspace and whether it is open.
#[Object]
impl Workspace {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.row.id.to_string())
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// Open now by its business hours (always, without them).
    async fn open_now(&self) -> bool {
        self.hours.as_ref().is_none_or(|h| h.is_open(self.now))
    }

    /// When it opens next (null while open, or always open).
    async fn next_opens_at(&self) -> Option<DateTime<Utc>> {
        self.hours.as_ref().and_then(|h| h.next_opens_at(self.now))
    }

    /// Its business hours (null: always open).
    async fn business_hours(&self) -> Option<BusinessHours> {
        self.hours.as_ref().map(Into::into)
    }
}

/// Response and resolution targets.
pub struct SlaPolicy(pub persistence::sla::SlaPolicy);

/// Response and resolution targets, in minutes (null: no target).
#[Object]
impl SlaPolicy {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Minutes to the first agent message after the conversation opens.
    async fn first_response_minutes(&self) -> Option<i32> {
        self.0.first_response_minutes
    }

    /// Minutes to the agent's answer to a customer message that followed an agent message.
    async fn next_response_minutes(&self) -> Option<i32> {
        self.0.next_response_minutes
    }

    /// Minutes to resolution from each opening.
    async fn resolution_minutes(&self) -> Option<i32> {
        self.0.resolution_minutes
    }

    /// The clocks run only inside business hours.
    async fn business_hours_only(&self) -> bool {
        self.0.business_hours_only
    }
}

/// A conversation's SLA now.
pub struct ConversationSla {
    policy: Option<persistence::sla::SlaPolicy>,
    clocks: Vec<persistence::sla::SlaClock>,
}

/// A conversation's SLA: its policy, the due time of each running target (counting from the
/// message or event that started it), and the targets of its current cycles met on time or
/// breached.
#[Object]
impl ConversationSla {
    /// The policy.
    async fn policy(&self) -> Option<SlaPolicy> {
        self.policy.clone().map(SlaPolicy)
    }

    /// When the first response is due (null: met, or no such target).
    async fn first_response_due_at(&self) -> Option<DateTime<Utc>> {
        self.running(domain::SlaTarget::FirstResponse)
    }

    /// When the next response is due (null: none awaited).
    async fn next_response_due_at(&self) -> Option<DateTime<Utc>> {
        self.running(domain::SlaTarget::NextResponse)
    }

    /// When resolution is due (null: resolved, or no such target).
    async fn resolution_due_at(&self) -> Option<DateTime<Utc>> {
        self.running(domain::SlaTarget::Resolution)
    }

    /// Targets met before their due time.
    async fn met(&self) -> Vec<SlaTarget> {
        self.targets(|c| c.met_at.is_some() && c.breached_at.is_none())
    }

    /// Targets whose due time passed unmet (also if met later).
    async fn breached(&self) -> Vec<SlaTarget> {
        self.targets(|c| c.breached_at.is_some())
    }
}

impl ConversationSla {
    fn running(&self, target: domain::SlaTarget) -> Option<DateTime<Utc>> {
        self.clocks
            .iter()
            .find(|c| c.target == target && c.met_at.is_none() && c.stopped_at.is_none())
            .and_then(|c| c.due_at)
    }

    fn targets(&self, keep: impl Fn(&persistence::sla::SlaClock) -> bool) -> Vec<SlaTarget> {
        domain::SlaTarget::ALL
            .iter()
            .filter(|t| self.clocks.iter().any(|c| c.target == **t && keep(c)))
            .map(|t| (*t).into())
            .collect()
    }
}

/// A conversation's SLA (null: no policy).
pub(super) async fn conversation_sla(
    ctx: &Context<'_>,
    c: &persistence::Conversation,
) -> Result<Option<ConversationSla>> {
    let Some(policy_id) = c.sla_policy_id else { return Ok(None) };
    let loaders = loaders_of(ctx)?;
    let clocks = loaders.load_one(super::loaders::SlaKey(c.id)).await.map_err(ApiError::from)?;
    let policy = loaders.load_one(super::loaders::SlaPolicyKey(policy_id)).await.map_err(ApiError::from)?;
    Ok(Some(ConversationSla { policy, clocks: clocks.unwrap_or_default() }))
}
