//! Conversations: the inbox, the threading look-ups and search.

use chrono::{DateTime, Utc};
use domain::search::SearchQuery;
use domain::{
    AgentId, Bsuid, BusinessNumberId, Channel, ContactId, ConversationId, ConversationStatus, ThreadKeyKind,
    WorkspaceId,
};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query, QueryStatementBuilder};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::entities::contact;
use crate::entities::conversation::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, StoreError};

/// Inserts a new conversation.
///
/// # Errors
/// [`StoreError::Duplicate`] when the business number already has a conversation with this key
/// on this channel (two webhooks raced: the caller retries and appends instead).
pub async fn insert(db: &impl ConnectionTrait, model: ActiveModel) -> Result<Model, StoreError> {
    Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| StoreError::from_db(e, "failed to create conversation", "a conversation with this key"))
}

/// Writes changed columns of a conversation.
///
/// # Errors
/// On a database failure.
pub async fn update(db: &impl ConnectionTrait, model: ActiveModel) -> Result<Model, StoreError> {
    model.update(db).await.context("failed to update conversation")
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: ConversationId,
) -> Result<Option<Model>, StoreError> {
    Entity::find_by_id(id.as_uuid())
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .one(db)
        .await
        .context("failed to load conversation")
}

/// Loads a conversation for a change, locking its row on PostgreSQL until the transaction
/// ends, so that two concurrent changes of one conversation are applied one after the other.
///
/// # Errors
/// On a database failure.
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: ConversationId,
) -> Result<Option<Model>, StoreError> {
    let mut query = Entity::find_by_id(id.as_uuid()).filter(Column::WorkspaceId.eq(workspace.as_uuid()));
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        query = query.lock_exclusive();
    }
    query.one(db).await.context("failed to load conversation for update")
}

/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[ConversationId],
) -> Result<Vec<Model>, StoreError> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(Column::Id.is_in(ids.iter().map(ConversationId::as_uuid)))
        .all(db)
        .await
        .context("failed to load conversations")
}

/// The business number's conversation with this key on this channel, if any.
///
/// # Errors
/// On a database failure.
pub async fn find_by_key(
    db: &impl ConnectionTrait,
    business_number: BusinessNumberId,
    channel: Channel,
    kind: ThreadKeyKind,
    value: &str,
) -> Result<Option<Model>, StoreError> {
    Entity::find()
        .filter(Column::BusinessNumberId.eq(business_number.as_uuid()))
        .filter(Column::Channel.eq(channel.as_str()))
        .filter(Column::KeyKind.eq(kind.as_str()))
        .filter(Column::KeyValue.eq(value))
        .one(db)
        .await
        .context("failed to look up conversation by key")
}

/// The most recently active conversation of the workspace on which `bsuid` is recorded.
///
/// # Errors
/// On a database failure.
pub async fn latest_with_bsuid(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    bsuid: &Bsuid,
) -> Result<Option<Model>, StoreError> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(Column::CustomerBsuid.eq(bsuid.as_str()))
        .order_by_desc(Column::LastActivityAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await
        .context("failed to look up conversations by BSUID")
}

/// Every conversation of the workspace on which `bsuid` is recorded.
///
/// # Errors
/// On a database failure.
pub async fn with_bsuid(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    bsuid: &Bsuid,
) -> Result<Vec<Model>, StoreError> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace.as_uuid()))
        .filter(Column::CustomerBsuid.eq(bsuid.as_str()))
        .order_by_asc(Column::CreatedAt)
        .all(db)
        .await
        .context("failed to list conversations by BSUID")
}

/// What the inbox may be filtered by.
#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<AgentId>,
    pub contact: Option<ContactId>,
    /// `Some(true)`: only customers whose phone is unknown; `Some(false)`: only with a phone.
    pub username_only: Option<bool>,
    pub search: Option<SearchQuery>,
}

/// Position in the inbox order (newest activity first): the last row of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    pub last_activity_at: DateTime<Utc>,
    pub id: Uuid,
}

impl InboxCursor {
    #[must_use]
    pub fn of(model: &Model) -> Self {
        Self { last_activity_at: model.last_activity_at, id: model.id }
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally in `LIKE … ESCAPE '\'`.
#[must_use]
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn like(pattern: String) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

/// One page of the workspace's conversations, newest activity first, after `after`.
/// Returns up to `limit` rows; ask for one more than the page size to learn if there is a next.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    filter: &ConversationFilter,
    after: Option<InboxCursor>,
    limit: u64,
) -> Result<Vec<Model>, StoreError> {
    let mut query = Entity::find().filter(Column::WorkspaceId.eq(workspace.as_uuid()));
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status.as_str()));
    }
    if let Some(assignee) = filter.assignee {
        query = query.filter(Column::AssigneeId.eq(assignee.as_uuid()));
    }
    if let Some(contact) = filter.contact {
        query = query.filter(Column::ContactId.eq(contact.as_uuid()));
    }
    match filter.username_only {
        Some(true) => query = query.filter(Column::CustomerPhone.is_null()),
        Some(false) => query = query.filter(Column::CustomerPhone.is_not_null()),
        None => {}
    }
    if let Some(search) = &filter.search {
        query = query.filter(search_condition(db, workspace, search));
    }
    if let Some(cursor) = after {
        query = query.filter(
            Condition::any().add(Column::LastActivityAt.lt(cursor.last_activity_at)).add(
                Condition::all()
                    .add(Column::LastActivityAt.eq(cursor.last_activity_at))
                    .add(Column::Id.lt(cursor.id)),
            ),
        );
    }
    query
        .order_by_desc(Column::LastActivityAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list conversations")
}

/// The search as one condition per matching path, each able to use its own index: username
/// prefix (B-tree with pattern ops), profile name and phone substring (trigram indexes on
/// PostgreSQL), contact name (through the contacts table).
fn search_paths(workspace: WorkspaceId, search: &SearchQuery) -> Vec<Condition> {
    let mut paths = vec![
        Condition::all().add(
            Expr::col(Column::CustomerUsernameKey)
                .like(like(format!("{}%", like_escape(&search.username_prefix)))),
        ),
    ];
    if let Some(text) = &search.name_contains {
        let pattern = format!("%{}%", like_escape(text));
        paths.push(
            Condition::all().add(Expr::col(Column::CustomerProfileNameFolded).like(like(pattern.clone()))),
        );
        let contacts = Query::select()
            .column(contact::Column::Id)
            .from(contact::Entity)
            .and_where(Expr::col(contact::Column::WorkspaceId).eq(workspace.as_uuid()))
            .and_where(Expr::col(contact::Column::NameFolded).like(like(pattern)))
            .to_owned();
        paths.push(Condition::all().add(Expr::col(Column::ContactId).in_subquery(contacts)));
    }
    if let Some(digits) = &search.phone_digits {
        paths.push(
            Condition::all()
                .add(Expr::col(Column::CustomerPhone).like(like(format!("%{}%", like_escape(digits))))),
        );
    }
    paths
}

fn search_condition(db: &impl ConnectionTrait, workspace: WorkspaceId, search: &SearchQuery) -> Condition {
    let paths = search_paths(workspace, search);
    if db.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return paths.into_iter().fold(Condition::any(), Condition::add);
    }
    // PostgreSQL plans `a OR b OR c` with an ORDER BY … LIMIT as a scan of the inbox index that
    // filters every row; a union of the paths, evaluated once, lets each use its own index.
    let mut branches = paths.into_iter().map(|path| {
        Query::select()
            .column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::WorkspaceId).eq(workspace.as_uuid()))
            .cond_where(path)
            .to_owned()
    });
    let Some(mut union) = branches.next() else { return Condition::all() };
    for branch in branches {
        union.union(sea_orm::sea_query::UnionType::Distinct, branch);
    }
    let ids = Expr::SubQuery(None, Box::new(union.into_sub_query_statement()));
    Condition::all().add(Expr::cust_with_expr("\"conversations\".\"id\" = ANY(ARRAY($1))", ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_underscores_and_percents_literally() {
        assert_eq!(like_escape("carlos_mx"), "carlos\\_mx");
        assert_eq!(like_escape("100%"), "100\\%");
        assert_eq!(like_escape("a\\b"), "a\\\\b");
    }
}
