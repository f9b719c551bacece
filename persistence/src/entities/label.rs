//! The `labels` table: a label agents put on conversations (names unique per workspace, ignoring case).

use domain::{LabelId, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "labels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: LabelId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    /// `name` in lower case: what uniqueness compares.
    pub name_key: String,
    pub color: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
