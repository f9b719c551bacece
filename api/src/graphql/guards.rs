//! Role guards: `#[graphql(guard = "RoleGuard::admin()")]`.

use async_graphql::{Context, Guard, Result};
use domain::Role;

use super::viewer;
use crate::error::ApiError;

/// Allows only the listed roles.
pub struct RoleGuard {
    roles: &'static [Role],
}

impl RoleGuard {
    #[must_use]
    pub const fn admin() -> Self {
        Self { roles: &[Role::Admin] }
    }

    #[must_use]
    pub const fn admin_or_integration() -> Self {
        Self { roles: &[Role::Admin, Role::Integration] }
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        let viewer = viewer(ctx)?;
        if self.roles.contains(&viewer.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("Your role does not allow this.").into())
        }
    }
}
