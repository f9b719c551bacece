//! The `sla_policies` table: response and resolution targets (PRODUCT.md section 18).

use domain::{SlaPolicyId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_policies")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: SlaPolicyId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// `name` in lower case: what uniqueness compares.
    pub name_key: String,
    pub first_response_minutes: Option<i32>,
    pub next_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    /// The clocks run only inside the workspace's business hours.
    pub business_hours_only: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
