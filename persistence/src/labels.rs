//! Labels of a workspace and the conversations carrying them.

use chrono::{DateTime, Utc};
use domain::{ConversationId, LabelId, WorkspaceId};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, RelationDef,
};

use crate::entities::conversation;
use crate::entities::conversation_label as tag;
use crate::entities::label::{self, Column, Entity, Model};
use crate::error::{DbContext, Error};

/// A new label.
#[derive(Debug)]
pub struct NewLabel<'a> {
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub color: &'a str,
}

/// # Errors
/// [`Error::Duplicate`] when the workspace has a label of that name (ignoring case).
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewLabel<'_>,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let row = label::ActiveModel {
        id: Set(LabelId::new()),
        workspace_id: Set(new.workspace_id),
        name: Set(new.name.to_owned()),
        name_key: Set(new.name.to_lowercase()),
        color: Set(new.color.to_owned()),
        created_at: Set(now),
    };
    Entity::insert(row)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create label", "a label with this name"))
}

/// The workspace's labels, by name.
///
/// # Errors
/// On a database failure.
pub async fn list(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .order_by_asc(Column::NameKey)
        .all(db)
        .await
        .context("failed to list labels")
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: LabelId,
) -> Result<Option<Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load label")
}

/// Puts a label on a conversation; `false` when it already carried it.
///
/// # Errors
/// On a database failure.
pub async fn add_to(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversation: ConversationId,
    label: LabelId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let row = tag::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(workspace),
        conversation_id: Set(conversation),
        label_id: Set(label),
        created_at: Set(now),
    };
    let inserted = tag::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([tag::Column::ConversationId, tag::Column::LabelId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to label a conversation")?;
    Ok(inserted > 0)
}

/// Takes a label off a conversation; `false` when it did not carry it.
///
/// # Errors
/// On a database failure.
pub async fn remove_from(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversation: ConversationId,
    label: LabelId,
) -> Result<bool, Error> {
    let result = tag::Entity::delete_many()
        .filter(tag::Column::WorkspaceId.eq(workspace))
        .filter(tag::Column::ConversationId.eq(conversation))
        .filter(tag::Column::LabelId.eq(label))
        .exec(db)
        .await
        .context("failed to unlabel a conversation")?;
    Ok(result.rows_affected > 0)
}

/// The labels of each of the conversations (one statement), by name.
///
/// # Errors
/// On a database failure.
pub async fn of_conversations(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> Result<Vec<(ConversationId, Model)>, Error> {
    if conversations.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tag::Entity::find()
        .select_also(Entity)
        .join(JoinType::InnerJoin, carried())
        .filter(tag::Column::WorkspaceId.eq(workspace))
        .filter(tag::Column::ConversationId.is_in(conversations.iter().copied()))
        .order_by_asc(Column::NameKey)
        .all(db)
        .await
        .context("failed to load the labels of conversations")?;
    Ok(rows.into_iter().filter_map(|(tag, label)| Some((tag.conversation_id, label?))).collect())
}

/// `conversation_labels.label_id → labels.id`.
fn carried() -> RelationDef {
    tag::Entity::belongs_to(Entity).from(tag::Column::LabelId).to(Column::Id).into()
}

/// Conversations (`conversations.id`) carrying at least one of `labels`.
pub(crate) fn carrying_any(labels: &[LabelId]) -> Condition {
    let tagged = Query::select()
        .expr(Expr::val(1))
        .from(tag::Entity)
        .and_where(
            Expr::col((tag::Entity, tag::Column::ConversationId))
                .eq(Expr::col((conversation::Entity, conversation::Column::Id))),
        )
        .and_where(Expr::col((tag::Entity, tag::Column::LabelId)).is_in(labels.iter().copied()))
        .to_owned();
    Condition::all().add(Expr::exists(tagged))
}
