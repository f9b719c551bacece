//! The `teams` table: a team of agents conversations are routed to (names unique per workspace, ignoring case).

use domain::{RoutingMode, SlaPolicyId, TeamId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TeamId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// `name` in lower case: what uniqueness compares.
    pub name_key: String,
    /// How its router assigns waiting conversations.
    pub routing_mode: RoutingMode,
    /// The most open conversations the router gives one member (`None`: no limit).
    pub capacity: Option<i32>,
    /// The policy a conversation joining the team takes.
    pub sla_policy_id: Option<SlaPolicyId>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
