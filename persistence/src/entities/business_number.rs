//! The `business_numbers` table.

use domain::{BusinessNumberId, BusinessUsername, BusinessUsernameStatus, PhoneNumber, WorkspaceId};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "business_numbers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: BusinessNumberId,
    pub workspace_id: WorkspaceId,
    pub phone_number_id: String,
    pub display_phone_number: PhoneNumber,
    pub waba_id: String,
    pub portfolio_id: String,
    pub business_name: Option<String>,
    pub username: Option<BusinessUsername>,
    pub username_key: Option<String>,
    pub username_status: Option<BusinessUsernameStatus>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
