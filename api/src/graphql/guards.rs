//! Role guards: `#[graphql(guard = "RoleGuard::new(Permission::Administer)")]`. The use case
//! checks the same [`Permission`] again (section 10: guards and use cases both check).

use async_graphql::{Context, Guard, Result};
use domain::Permission;

use super::context::viewer;

/// Allows the roles that hold one permission.
pub struct RoleGuard {
    permission: Permission,
}

impl RoleGuard {
    #[must_use]
    pub const fn new(permission: Permission) -> Self {
        Self { permission }
    }

    /// Admins only.
    #[must_use]
    pub const fn admin() -> Self {
        Self::new(Permission::Administer)
    }
}

impl Guard for RoleGuard {
    async fn check(&self, ctx: &Context<'_>) -> Result<()> {
        viewer(ctx)?.require(self.permission)?;
        Ok(())
    }
}
