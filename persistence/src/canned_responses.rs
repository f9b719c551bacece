//! Canned responses: saved answers of a workspace, found by short code.

use chrono::{DateTime, Utc};
use domain::{AgentId, CannedResponseId, WorkspaceId};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entities::canned_response::{self, Column, Entity, Model};
use crate::error::{DbContext, Error};
use crate::inbox::like_escape;

/// At most this many canned responses are listed at once.
pub const MAX_LISTED: u64 = 500;

/// A new canned response.
#[derive(Debug)]
pub struct NewCannedResponse<'a> {
    pub workspace_id: WorkspaceId,
    pub short_code: &'a str,
    pub text: &'a str,
    pub created_by: AgentId,
}

/// # Errors
/// [`Error::Duplicate`] when the workspace has that short code (ignoring case).
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewCannedResponse<'_>,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let row = canned_response::ActiveModel {
        id: Set(CannedResponseId::new()),
        workspace_id: Set(new.workspace_id),
        short_code: Set(new.short_code.to_owned()),
        short_code_key: Set(new.short_code.to_lowercase()),
        text: Set(new.text.to_owned()),
        created_by: Set(new.created_by),
        created_at: Set(now),
    };
    Entity::insert(row).exec_with_returning(db).await.map_err(|e| {
        Error::from_db(e, "failed to create canned response", "a canned response with this short code")
    })
}

/// Deletes one; `None` when the workspace has no such canned response.
///
/// # Errors
/// On a database failure.
pub async fn delete(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: CannedResponseId,
) -> Result<Option<Model>, Error> {
    let Some(found) = Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load canned response")?
    else {
        return Ok(None);
    };
    Entity::delete_by_id(id).exec(db).await.context("failed to delete canned response")?;
    Ok(Some(found))
}

/// The workspace's canned responses by short code; with `search`, those whose short code
/// starts with it or whose text contains it (case-insensitive).
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    search: Option<&str>,
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find().filter(Column::WorkspaceId.eq(workspace));
    if let Some(search) = search.map(str::to_lowercase).filter(|s| !s.is_empty()) {
        let escaped = like_escape(&search);
        let like = |pattern: String| sea_orm::sea_query::LikeExpr::new(pattern).escape('\\');
        query = query.filter(
            Condition::any()
                .add(Expr::col(Column::ShortCodeKey).like(like(format!("{escaped}%"))))
                .add(Expr::expr(Func::lower(Expr::col(Column::Text))).like(like(format!("%{escaped}%")))),
        );
    }
    query
        .order_by_asc(Column::ShortCodeKey)
        .limit(MAX_LISTED)
        .all(db)
        .await
        .context("failed to list canned responses")
}
