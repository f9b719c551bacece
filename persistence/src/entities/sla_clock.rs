//! The `sla_clocks` table: one target of one conversation's SLA policy in one cycle (a first
//! response, a next response after a customer message, a resolution after an opening).

use domain::{AgentId, BusinessNumberId, ConversationId, SlaPolicyId, SlaTarget, TeamId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_clocks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: WorkspaceId,
    pub conversation_id: ConversationId,
    pub policy_id: SlaPolicyId,
    pub target: SlaTarget,
    /// The target's time.
    pub minutes: i32,
    /// The clock runs only inside business hours.
    pub business_hours_only: bool,
    /// The message or event that started it.
    pub started_at: DateTimeUtc,
    /// When 80% of its time has passed (`None`: the schedule never opens that long).
    pub warn_at: Option<DateTimeUtc>,
    pub due_at: Option<DateTimeUtc>,
    /// Snoozed since (the clock does not run meanwhile).
    pub paused_at: Option<DateTimeUtc>,
    pub met_at: Option<DateTimeUtc>,
    /// When `sla.warning` was written for it.
    pub warned_at: Option<DateTimeUtc>,
    /// When `sla.breached` was written for it.
    pub breached_at: Option<DateTimeUtc>,
    /// No longer counts (the policy was removed or replaced, or the conversation resolved).
    pub stopped_at: Option<DateTimeUtc>,
    pub stopped_because: Option<String>,
    /// The conversation's business number, assignee and team, kept equal to them on every
    /// assignment (a report counts breaches by them without reading conversations).
    pub business_number_id: Option<BusinessNumberId>,
    pub conversation_assignee_id: Option<AgentId>,
    pub conversation_team_id: Option<TeamId>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
