//! The `canned_responses` table: saved answers, found by their short code (unique per workspace, ignoring case).

use domain::{AgentId, CannedResponseId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "canned_responses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: CannedResponseId,
    pub workspace_id: WorkspaceId,
    pub short_code: String,
    /// `short_code` in lower case: what uniqueness and search compare.
    pub short_code_key: String,
    pub text: String,
    pub created_by: AgentId,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
