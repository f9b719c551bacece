//! Conversations: writing them, the threading look-ups and relinking (snoozes wake in
//! [`crate::snoozes`]). The inbox's page and search are [`crate::inbox`].

use chrono::{DateTime, Utc};
use domain::search::fold_name;
use domain::threading::ThreadKey;
use domain::{
    AgentId, Bsuid, BusinessNumberId, Channel, ContactId, ConversationId, ConversationStatus, MessageId,
    ParentBsuid, PhoneNumber, TeamId, ThreadKeyKind, ThreadOrigin, Username, WorkspaceId,
};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::dialect::Dialect;
use crate::entities::conversation::{ActiveModel, Column, Entity, Model};
use crate::entities::{business_number, contact};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};

pub use crate::snoozes::{next_snooze_due, wake_snoozed};

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
    /// When its first message, an inbound one, is stored (`None` when an agent starts it).
    pub inbound_stored_at: Option<DateTime<Utc>>,
    pub last_activity_at: DateTime<Utc>,
    /// Who works it from the start (an agent who started it), in which team (its number's).
    pub assignee: Option<AgentId>,
    pub team: Option<TeamId>,
    /// The contact it is linked to from the start (started from a contact).
    pub link: Option<Link>,
    /// The customer opted out of SMS from the workspace's number.
    pub sms_opted_out: bool,
}

/// Inserts a new conversation (open).
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
    let rows =
        news.into_iter().map(|new| (new.last_activity_at, new)).map(|(at, new)| row(new, at)).collect();
    crate::dialect::insert_chunked::<Entity>(db, rows)
        .await
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
        contact_id: Set(new.link.map(|l| l.contact)),
        linked_by_agent_id: Set(new.link.and_then(|l| l.by)),
        linked_at: Set(new.link.map(|l| l.at)),
        assignee_id: Set(new.assignee),
        team_id: Set(new.team),
        status: Set(ConversationStatus::Open),
        snoozed_until: Set(None),
        sms_opted_out: Set(new.sms_opted_out),
        read_receipt_message_id: Set(None),
        origin: Set(new.origin),
        previous_conversation_id: Set(new.previous),
        last_inbound_at: Set(new.last_inbound_at),
        inbound_stored_at: Set(new.inbound_stored_at),
        window_warned_for: Set(None),
        window_closed_for: Set(None),
        away_until: Set(None),
        sla_policy_id: Set(None),
        sla_due_at: Set(None),
        sla_breached: Set(false),
        last_activity_at: Set(new.last_activity_at),
        created_at: Set(now),
        updated_at: Set(now),
        first_response_at: Set(None),
        first_response_seconds: Set(None),
        resolved_at: Set(None),
        resolution_seconds: Set(None),
    }
}

/// Who linked a conversation to which contact, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub contact: ContactId,
    /// `None`: Parley linked it (auto-link on an attested phone).
    pub by: Option<AgentId>,
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
    /// `Some(None)` takes it off its team.
    pub team: Option<Option<TeamId>>,
    /// `Some(None)` unlinks.
    pub link: Option<Option<Link>>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// An inbound message is stored with it (at this time).
    pub inbound_stored_at: Option<DateTime<Utc>>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// `Some(None)` clears it (reopened).
    pub snoozed_until: Option<Option<DateTime<Utc>>>,
    /// The latest inbound message a read receipt was sent for.
    pub read_receipt_message_id: Option<MessageId>,
    /// The end of the closed period its away reply was sent in.
    pub away_until: Option<DateTime<Utc>>,
}

/// Writes a change of `current` (and `updated_at = now`).
///
/// # Errors
/// On a database failure.
pub async fn update(
    db: &impl Announce,
    current: Model,
    change: ConversationChange,
    now: DateTime<Utc>,
) -> Result<Model, Error> {
    let model = changed(current, change, now);
    announce(db, &model);
    let reassigned = model.assignee_id.is_set() || model.team_id.is_set();
    let model = model.update(db).await.context("failed to update conversation")?;
    if reassigned {
        crate::reports::follow_assignment(db, model.id, model.assignee_id, model.team_id).await?;
    }
    Ok(model)
}

/// Wakes the snooze worker for a change that snoozes, and the router for one that may change
/// a team's queue or a member's room.
pub(crate) fn announce(db: &impl Announce, model: &ActiveModel) {
    if matches!(model.snoozed_until, Set(Some(_))) {
        db.announce(Work::Snooze);
    }
    if model.status.is_set() || model.assignee_id.is_set() || model.team_id.is_set() {
        db.announce(Work::Route);
    }
}

/// The change of `current`: every column it sets, and `updated_at = now`.
pub(crate) fn changed(current: Model, change: ConversationChange, now: DateTime<Utc>) -> ActiveModel {
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
        if status != ConversationStatus::Snoozed {
            model.snoozed_until = Set(None);
        }
    }
    if let Some(channel) = change.active_channel {
        model.active_channel = Set(channel);
    }
    if let Some(assignee) = change.assignee {
        model.assignee_id = Set(assignee);
    }
    if let Some(team) = change.team {
        model.team_id = Set(team);
    }
    if let Some(until) = change.away_until {
        model.away_until = Set(Some(until));
    }
    if let Some(link) = change.link {
        model.contact_id = Set(link.map(|l| l.contact));
        model.linked_by_agent_id = Set(link.and_then(|l| l.by));
        model.linked_at = Set(link.map(|l| l.at));
    }
    if let Some(at) = change.last_inbound_at {
        model.last_inbound_at = Set(Some(at));
    }
    if let Some(at) = change.inbound_stored_at {
        model.inbound_stored_at = Set(Some(at));
    }
    if let Some(at) = change.last_activity_at {
        model.last_activity_at = Set(at);
    }
    if let Some(until) = change.snoozed_until {
        model.snoozed_until = Set(until);
    }
    if let Some(message) = change.read_receipt_message_id {
        model.read_receipt_message_id = Set(Some(message));
    }
    model.updated_at = Set(now);
    model
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

/// [`find_for_update`] with the conversation's business number, in one statement: a send reads
/// both, and each round trip is one more wait for a scheduler on a busy machine. Only the
/// conversation's row is locked (PostgreSQL: `FOR UPDATE OF conversations`); the sends of one
/// number do not wait for each other.
///
/// # Errors
/// On a database failure.
pub async fn find_for_update_with_number(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: ConversationId,
) -> Result<Option<(Model, Option<business_number::Model>)>, Error> {
    use sea_orm::{EntityName, JoinType};
    let number = Entity::belongs_to(business_number::Entity)
        .from(Column::BusinessNumberId)
        .to(business_number::Column::Id)
        .into();
    let mut query = Entity::find_by_id(id)
        .filter(Column::WorkspaceId.eq(workspace))
        .select_also(business_number::Entity)
        .join(JoinType::LeftJoin, number);
    Dialect::of(db).lock_rows_of(QuerySelect::query(&mut query), Entity.table_ref());
    let found = query.one(db).await.context("failed to load conversation and number for update")?;
    // A conversation's number is of its workspace; the check keeps the tenancy rule local.
    Ok(found.map(|(conversation, number)| (conversation, number.filter(|n| n.workspace_id == workspace))))
}

/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[ConversationId],
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Dialect::of(db).scope(Column::WorkspaceId, workspace))
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

/// The conversations with these thread keys (a group of webhooks looks its threads up at once):
/// one point look-up of `ux_conversations_key` per key, in one statement.
///
/// # Errors
/// On a database failure.
pub async fn find_by_keys(
    db: &impl ConnectionTrait,
    keys: &[(BusinessNumberId, Channel, ThreadKeyKind, String)],
) -> Result<Vec<Model>, Error> {
    let mut found = Vec::new();
    // Point look-ups joined with UNION ALL (with an `OR` of the keys PostgreSQL factored the
    // number out and scanned all of its conversations).
    for chunk in keys.chunks(crate::dialect::LOOKUPS_PER_STATEMENT) {
        let mut lookups = chunk.iter().map(|(number, channel, kind, value)| {
            Query::select()
                .columns(<Column as sea_orm::Iterable>::iter().map(|c| (Entity, c)))
                .from(Entity)
                .and_where(Expr::col(Column::BusinessNumberId).eq(*number))
                .and_where(Expr::col(Column::Channel).eq(*channel))
                .and_where(Expr::col(Column::KeyKind).eq(*kind))
                .and_where(Expr::col(Column::KeyValue).eq(value.as_str()))
                .to_owned()
        });
        let Some(mut query) = lookups.next() else { break };
        for other in lookups {
            query.union(sea_orm::sea_query::UnionType::All, other);
        }
        let stmt = Dialect::of(db).backend().build(&query);
        found.extend(
            Entity::find()
                .from_raw_sql(stmt)
                .all(db)
                .await
                .context("failed to look up conversations by key")?,
        );
    }
    Ok(found)
}

/// The most recently active of the conversations `query` finds.
async fn latest(
    query: sea_orm::Select<Entity>,
    db: &impl ConnectionTrait,
    what: &'static str,
) -> Result<Option<Model>, Error> {
    query.order_by_desc(Column::LastActivityAt).order_by_desc(Column::Id).one(db).await.context(what)
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
    latest(
        Entity::find()
            .filter(Column::WorkspaceId.eq(workspace))
            .filter(Column::CustomerBsuid.eq(bsuid.as_str())),
        db,
        "failed to look up conversations by BSUID",
    )
    .await
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

/// The workspace's most recently active conversation whose replies go by SMS to `phone`: its
/// customer's phone, or its linked contact's (where an inbound SMS from `phone` belongs).
///
/// # Errors
/// On a database failure.
pub async fn latest_sms_with_phone(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    phone: &PhoneNumber,
) -> Result<Option<Model>, Error> {
    // Two look-ups, each on its index (an `OR` of the two would scan the workspace).
    let by_phone = latest(
        Entity::find()
            .filter(Column::WorkspaceId.eq(workspace))
            .filter(Column::CustomerPhone.eq(phone.as_str()))
            .filter(Column::ActiveChannel.eq(Channel::Sms)),
        db,
        "failed to look up an SMS conversation",
    )
    .await?;
    let contacts = Query::select()
        .column(contact::Column::Id)
        .from(contact::Entity)
        .and_where(Expr::col(contact::Column::WorkspaceId).eq(workspace))
        .and_where(Expr::col(contact::Column::Phone).eq(phone.as_str()))
        .to_owned();
    let by_contact = latest(
        Entity::find()
            .filter(Expr::col(Column::ContactId).in_subquery(contacts))
            .filter(Column::WorkspaceId.eq(workspace))
            .filter(Column::ActiveChannel.eq(Channel::Sms)),
        db,
        "failed to look up an SMS conversation",
    )
    .await?;
    Ok([by_phone, by_contact].into_iter().flatten().max_by_key(|c| (c.last_activity_at, c.id)))
}

/// The workspace's conversations of a number with this customer phone (started conversations
/// reuse the one keyed by it).
///
/// # Errors
/// On a database failure.
pub async fn with_phone_on_number(
    db: &impl ConnectionTrait,
    number: BusinessNumberId,
    phone: &PhoneNumber,
) -> Result<Option<Model>, Error> {
    latest(
        Entity::find()
            .filter(Column::BusinessNumberId.eq(number))
            .filter(Column::CustomerPhone.eq(phone.as_str())),
        db,
        "failed to look up a conversation by phone",
    )
    .await
}

/// The conversations of a business number that are not resolved (open or snoozed): those whose
/// capabilities an agent may still act on.
///
/// # Errors
/// On a database failure.
pub async fn unresolved_on_number(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    number: BusinessNumberId,
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::BusinessNumberId.eq(number))
        .filter(Column::Status.ne(ConversationStatus::Resolved))
        .all(db)
        .await
        .context("failed to load the conversations of a number")
}

/// The open or snoozed conversations linked to a contact.
///
/// # Errors
/// On a database failure.
pub async fn unresolved_of_contact(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    contact: ContactId,
) -> Result<Vec<Model>, Error> {
    Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::ContactId.eq(contact))
        .filter(Column::Status.ne(ConversationStatus::Resolved))
        .all(db)
        .await
        .context("failed to load the conversations of a contact")
}

/// Records an SMS opt-out (or opt-in) on every conversation of the workspace with this customer
/// phone (their capabilities read it).
///
/// # Errors
/// On a database failure.
pub async fn set_sms_opted_out(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    phone: &PhoneNumber,
    opted_out: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Model>, Error> {
    let changed = Entity::find()
        .filter(Column::WorkspaceId.eq(workspace))
        .filter(Column::CustomerPhone.eq(phone.as_str()))
        .filter(Column::SmsOptedOut.ne(opted_out))
        .all(db)
        .await
        .context("failed to load conversations of a phone")?;
    let mut saved = Vec::with_capacity(changed.len());
    for conversation in changed {
        let mut model = conversation.into_active_model();
        model.sms_opted_out = Set(opted_out);
        model.updated_at = Set(now);
        saved.push(model.update(db).await.context("failed to record an SMS opt-out")?);
    }
    Ok(saved)
}
