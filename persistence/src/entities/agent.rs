//! The `agents` table.

use domain::{AgentId, Availability, Email, Role, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: AgentId,
    pub workspace_id: WorkspaceId,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub active: bool,
    /// Whether they take new work (PRODUCT.md section 18).
    pub availability: Availability,
    /// Until when they count as present for routing: an open WebSocket (or setting their
    /// availability) moves it `PARLEY_PRESENCE_GRACE` ahead.
    pub present_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
