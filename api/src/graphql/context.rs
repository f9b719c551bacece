//! What a resolver reads from the request: the viewer, the request's clock, the database and
//! the dataloaders, and the parsing of id arguments. Every feature module imports these from
//! here (not from the schema's module, which imports the features).

use std::str::FromStr;

use async_graphql::{Context, ID};
use chrono::{DateTime, Utc};
use persistence::Database;

use super::loaders::Loaders;
use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// Per-request facts resolvers read: the viewer (if authenticated) and the request's clock.
#[derive(Clone, Copy, Debug)]
pub struct RequestData {
    pub viewer: Option<Viewer>,
    pub now: DateTime<Utc>,
}

/// The authenticated viewer.
///
/// # Errors
/// `UNAUTHENTICATED` when the request carried no token.
pub fn viewer<'a>(ctx: &Context<'a>) -> ApiResult<&'a Viewer> {
    ctx.data_opt::<RequestData>()
        .and_then(|d| d.viewer.as_ref())
        .ok_or(ApiError::Unauthenticated("Sign in: send Authorization: Bearer <token>."))
}

/// The request's time: one `now` for every field of a response.
#[must_use]
pub fn now(ctx: &Context<'_>) -> DateTime<Utc> {
    ctx.data_opt::<RequestData>().map_or_else(Utc::now, |d| d.now)
}

/// The database.
///
/// # Errors
/// `INTERNAL` when the schema was built without one (a wiring bug).
pub fn db<'a>(ctx: &Context<'a>) -> ApiResult<&'a Database> {
    ctx.data_opt::<Database>().ok_or_else(|| ApiError::internal(anyhow::anyhow!("schema has no database")))
}

/// The request's dataloaders (present whenever a viewer is).
///
/// # Errors
/// `UNAUTHENTICATED` without a viewer.
pub fn loaders_of<'a>(ctx: &Context<'a>) -> ApiResult<&'a Loaders> {
    viewer(ctx)?;
    ctx.data_opt::<Loaders>().ok_or_else(|| ApiError::internal(anyhow::anyhow!("request has no loaders")))
}

/// Parses an id argument into a typed id.
///
/// # Errors
/// `BAD_USER_INPUT` naming the argument.
pub fn parse_id<T: FromStr>(id: &ID, argument: &str) -> ApiResult<T> {
    id.as_str().trim().parse::<T>().map_err(|_| ApiError::bad_input(format!("{argument} is not a valid id")))
}

/// The Cloud API and the keys that open each number's own token, for a mutation that calls
/// Meta (usernames, templates).
///
/// # Errors
/// When the schema was built without them.
pub fn cloud<'a>(ctx: &Context<'a>) -> async_graphql::Result<crate::setup::usernames::Cloud<'a>> {
    Ok(crate::setup::usernames::Cloud {
        gateway: ctx.data::<crate::providers::meta::WhatsappGateway>()?,
        keyring: ctx.data::<persistence::sealed::Keyring>()?,
    })
}
