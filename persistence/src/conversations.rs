//! Conversations: the inbox, the threading look-ups and search.

use chrono::{DateTime, Utc};
use domain::search::{SearchQuery, fold_name};
use domain::threading::ThreadKey;
use domain::{
    AgentId, Bsuid, BusinessNumberId, Channel, ContactId, ConversationId, ConversationStatus, ParentBsuid,
    PhoneNumber, ThreadKeyKind, ThreadOrigin, Username, WorkspaceId,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};

use crate::dialect::Dialect;
use crate::entities::contact;
use crate::entities::conversation::{ActiveModel, Column, Entity, Model};
use crate::error::{DbContext, Error};

/// What WhatsApp told us about a customer, as recorded on a conversation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerFacts {
    pub phone: Option<PhoneNumber>,
    pub bsuid: Option<Bsuid>,
    pub parent_bsuid: Option<ParentBsuid>,
    pub username: Option<Username>,
    pub profile_name: Option<String>,
}

/// A conversation to open.
#[derive(Clone, Debug)]
pub struct NewConversation {
    pub workspace_id: WorkspaceId,
    pub business_number_id: BusinessNumberId,
    pub channel: Channel,
    pub key: ThreadKey,
    pub customer: CustomerFacts,
    pub origin: ThreadOrigin,
    pub previous: Option<ConversationId>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
}

/// Inserts a new conversation (open, unassigned, unlinked).
///
/// # Errors
/// [`Error::Duplicate`] when the business number already has a conversation with this key
/// on this channel (two webhooks raced: the caller retries and appends instead).
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewConversation,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    Entity::insert(row(new, now))
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create conversation", "a conversation with this key"))
}

/// Inserts many conversations at once (imports, benchmarks); each is dated by its last
/// activity. Returns nothing: read them back if needed.
///
/// # Errors
/// [`Error::Duplicate`] when a key is taken.
pub async fn insert_many(db: &impl ConnectionTrait, news: Vec<NewConversation>) -> Result<(), Error> {
    if news.is_empty() {
        return Ok(());
    }
    let rows = news.into_iter().map(|new| {
        let at = new.last_activity_at;
        row(new, at)
    });
    Entity::insert_many(rows)
        .exec_without_returning(db)
        .await
        .map(|_| ())
        .map_err(|e| Error::from_db(e, "failed to import conversations", "a conversation with this key"))
}

fn row(new: NewConversation, now: DateTime<Utc>) -> ActiveModel {
    let customer = new.customer;
    ActiveModel {
        id: Set(ConversationId::new()),
        workspace_id: Set(new.workspace_id),
        business_number_id: Set(new.business_number_id),
        channel: Set(new.channel),
        active_channel: Set(new.channel),
        key_kind: Set(new.key.kind()),
        key_value: Set(new.key.value().to_owned()),
        customer_username_key: Set(customer.username.as_ref().map(Username::key)),
        customer_profile_name_folded: Set(customer.profile_name.as_deref().map(fold_name)),
        customer_phone: Set(customer.phone),
        customer_bsuid: Set(customer.bsuid),
        customer_parent_bsuid: Set(customer.parent_bsuid),
        customer_username: Set(customer.username),
        customer_profile_name: Set(customer.profile_name),
        contact_id: Set(None),
        linked_by_agent_id: Set(None),
        linked_at: Set(None),
        assignee_id: Set(None),
        status: Set(ConversationStatus::Open),
        origin: Set(new.origin),
        previous_conversation_id: Set(new.previous),
        last_inbound_at: Set(new.last_inbound_at),
        last_activity_at: Set(new.last_activity_at),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Who linked a conversation to which contact, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub contact: ContactId,
    pub by: AgentId,
    pub at: DateTime<Utc>,
}

/// The columns of a conversation to change; `None` leaves a column as it is. The folded
/// search columns follow the username and profile name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationChange {
    pub customer_phone: Option<PhoneNumber>,
    pub customer_bsuid: Option<Bsuid>,
    pub customer_parent_bsuid: Option<ParentBsuid>,
    pub customer_username: Option<Username>,
    pub customer_profile_name: Option<String>,
    /// A BSUID-keyed thread re-keyed to the customer's new BSUID.
    pub key_value: Option<String>,
    pub status: Option<ConversationStatus>,
    pub active_channel: Option<Channel>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<AgentId>>,
    /// `Some(None)` unlinks.
    pub link: Option<Option<Link>>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
}

/// Writes a change of `current` (and `updated_at = now`).
///
/// # Errors
/// On a database failure.
pub async fn update(
    db: &impl ConnectionTrait,
    current: Model,
    change: ConversationChange,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let mut model = current.into_active_model();
    if let Some(phone) = change.customer_phone {
        model.customer_phone = Set(Some(phone));
    }
    if let Some(bsuid) = change.customer_bsuid {
        model.customer_bsuid = Set(Some(bsuid));
    }
    if let Some(parent) = change.customer_parent_bsuid {
        model.customer_parent_bsuid = Set(Some(parent));
    }
    if let Some(username) = change.customer_username {
        model.customer_username_key = Set(Some(username.key()));
        model.customer_username = Set(Some(username));
    }
    if let Some(profile) = change.customer_profile_name {
        model.customer_profile_name_folded = Set(Some(fold_name(&profile)));
        model.customer_profile_name = Set(Some(profile));
    }
    if let Some(key) = change.key_value {
        model.key_value = Set(key);
    }
    if let Some(status) = change.status {
        model.status = Set(status);
    }
    if let Some(channel) = change.active_channel {
        model.active_channel = Set(channel);
    }
    if let Some(assignee) = change.assignee {
        model.assignee_id = Set(assignee);
    }
    if let Some(link) = change.link {
        model.contact_id = Set(link.map(|l| l.contact));
        model.linked_by_agent_id = Set(link.map(|l| l.by));
        model.linked_at = Set(link.map(|l| l.at));
    }
    if let Some(at) = change.last_inbound_at {
        model.last_inbound_at = Set(Some(at));
    }
    if let Some(at) = change.last_activity_at {
        model.last_activity_at = Set(at);
    }
    model.updated_at = Set(now);
    model.update(db).await.context("failed to update conversation")
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: ConversationId,
) -> Result<Option<Model>, Error> {
    Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
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
) -> Result<Option<Model>, Error> {
    let query = Entity::find_by_id(id).filter(Column::WorkspaceId.eq(workspace));
    Dialect::of(db).lock_for_update(query).one(db).await.context("failed to load conversation for update")
}

/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[ConversationId],
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::Id.is_in(ids.iter().copied()))
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
) -> Result<Option<Model>, Error> {
    Entity::find()
        .filter(Column::BusinessNumberId.eq(business_number))
        .filter(Column::Channel.eq(channel))
        .filter(Column::KeyKind.eq(kind))
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
) -> Result<Option<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::CustomerBsuid.eq(bsuid.as_str()))
        .order_by_desc(Column::LastActivityAt)
        .order_by_desc(Column::Id)
        .one(db)
        .await
        .context("failed to look up conversations by BSUID")
}

/// Every conversation of the workspace with its last activity (imports, benchmarks).
///
/// # Errors
/// On a database failure.
pub async fn activity_of_all(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
) -> Result<Vec<(ConversationId, DateTime<Utc>)>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .select_only()
        .column(Column::Id)
        .column(Column::LastActivityAt)
        .into_tuple()
        .all(db)
        .await
        .context("failed to list conversations")
}

/// Every conversation of the workspace on which `bsuid` is recorded.
///
/// # Errors
/// On a database failure.
pub async fn with_bsuid(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    bsuid: &Bsuid,
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
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
    pub id: ConversationId,
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
) -> Result<Vec<Model>, Error> {
    let mut query = Entity::find().filter(Column::WorkspaceId.eq(workspace));
    if let Some(status) = filter.status {
        query = query.filter(Column::Status.eq(status));
    }
    if let Some(assignee) = filter.assignee {
        query = query.filter(Column::AssigneeId.eq(assignee));
    }
    if let Some(contact) = filter.contact {
        query = query.filter(Column::ContactId.eq(contact));
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
            .and_where(Expr::col(contact::Column::WorkspaceId).eq(workspace))
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
    Dialect::of(db).any_of_paths((Entity, Column::Id), paths, |path| {
        Query::select()
            .column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::WorkspaceId).eq(workspace))
            .cond_where(path)
            .to_owned()
    })
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
