//! The `templates` table.

use domain::{BusinessNumberId, TemplateCategory, TemplateId, TemplateQuality, TemplateStatus, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "templates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TemplateId,
    pub workspace_id: WorkspaceId,
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    pub body: String,
    pub created_at: DateTimeUtc,
    /// The number it was synced or submitted through (its token reads the WABA).
    pub business_number_id: Option<BusinessNumberId>,
    /// The WABA it lives in; empty for a template typed into Parley without a number.
    pub waba_id: String,
    /// Meta's review: only `APPROVED` templates can be sent.
    pub status: TemplateStatus,
    pub quality: TemplateQuality,
    /// Meta's reason, for a rejected template.
    pub rejected_reason: Option<String>,
    /// Meta's id of the template.
    pub meta_id: Option<String>,
    pub updated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
