//! Business usernames: suggestions, setting and deleting one (Cloud API calls).

use super::context::{cloud, db, now, parse_id, viewer};
use super::enums;
use super::guards::RoleGuard;
use super::setup::BusinessNumber;
use async_graphql::{Context, ID, Object, Result};
use domain::BusinessNumberId;
use domain::Permission;

/// Business username suggestions.
#[derive(Default)]
pub struct UsernameQuery;

#[Object]
impl UsernameQuery {
    /// Usernames with a higher chance of approval for a business number: WhatsApp's reserved
    /// suggestions (cloud), or valid, available names derived from the business name (sandbox).
    #[graphql(guard = "RoleGuard::new(Permission::Administer)")]
    async fn business_username_suggestions(
        &self,
        ctx: &Context<'_>,
        business_number_id: ID,
    ) -> Result<Vec<String>> {
        let viewer = viewer(ctx)?;
        let id = parse_id::<domain::BusinessNumberId>(&business_number_id, "businessNumberId")?;
        Ok(crate::setup::usernames::suggestions(db(ctx)?, cloud(ctx)?, viewer, id).await?)
    }
}

/// A business number's username as WhatsApp holds it.
#[derive(async_graphql::SimpleObject)]
pub struct BusinessUsername {
    /// The username.
    pub username: String,
    /// APPROVED (visible where usernames are live) or RESERVED.
    pub status: enums::BusinessUsernameStatus,
}

/// Business usernames (ADMIN).
#[derive(Default)]
pub struct UsernameMutation;

#[Object]
impl UsernameMutation {
    /// Adopts, changes or (with FORCE_TRANSFER) takes over from another number of the same
    /// portfolio the username of a business number (ADMIN). Errors carry `whatsappCode`:
    /// 100 (format rule), 147001 (unavailable), 147005 (transfer required)…
    #[graphql(guard = "RoleGuard::admin()")]
    async fn set_business_username(
        &self,
        ctx: &Context<'_>,
        business_number_id: ID,
        username: String,
        #[graphql(desc = "NONE (the default) or FORCE_TRANSFER.")] transfer_action: Option<
            enums::TransferAction,
        >,
    ) -> Result<BusinessUsername> {
        let id = parse_id::<BusinessNumberId>(&business_number_id, "businessNumberId")?;
        let saved = crate::setup::usernames::set(
            db(ctx)?,
            cloud(ctx)?,
            viewer(ctx)?,
            id,
            &username,
            transfer_action.map_or(domain::TransferAction::None, Into::into),
            now(ctx),
        )
        .await?;
        let status = saved.username_status.ok_or_else(|| {
            crate::error::ApiError::internal(anyhow::anyhow!("username stored without status"))
        })?;
        let username = saved.username.map(|u| u.as_str().to_owned()).unwrap_or_default();
        Ok(BusinessUsername { username, status: status.into() })
    }

    /// Deletes the username of a business number (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn delete_business_username(
        &self,
        ctx: &Context<'_>,
        business_number_id: ID,
    ) -> Result<BusinessNumber> {
        let id = parse_id::<BusinessNumberId>(&business_number_id, "businessNumberId")?;
        Ok(BusinessNumber(
            crate::setup::usernames::delete(db(ctx)?, cloud(ctx)?, viewer(ctx)?, id, now(ctx)).await?,
        ))
    }

    /// Sandbox mode: whether business usernames are live in the workspace's region, which
    /// makes new usernames APPROVED instead of RESERVED (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn set_business_usernames_live(&self, ctx: &Context<'_>, live: bool) -> Result<bool> {
        Ok(crate::setup::usernames::set_live(db(ctx)?, viewer(ctx)?, live).await?)
    }
}
