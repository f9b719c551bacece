//! Privacy requests: finding everything stored about one customer of a workspace (for export)
//! and erasing it. A customer is every conversation of the workspace that shares a phone or a
//! BSUID with the conversation the request names, followed transitively (the phone thread and
//! the thread opened after the customer hid the number share the BSUID).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use domain::{
    AttachmentId, AttachmentStatus, ContactId, ConversationId, Direction, IdentityKind, MessageStatus,
    WorkspaceId,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder,
};
use serde_json::{Map, Value};

use crate::entities::{
    attachment, contact_identity, conversation, dead_letter, event, message, message_reaction,
};
use crate::error::{DbContext, Error};
use crate::work::Announce;

/// The identifiers of one customer across the workspace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Customer {
    pub phones: BTreeSet<String>,
    pub bsuids: BTreeSet<String>,
    pub parent_bsuids: BTreeSet<String>,
    /// As shown (`Carlos_MX`).
    pub usernames: BTreeSet<String>,
    /// As compared (`carlos_mx`).
    pub username_keys: BTreeSet<String>,
    pub profile_names: BTreeSet<String>,
}

impl Customer {
    fn absorb(&mut self, c: &conversation::Model) -> bool {
        let before = (self.phones.len(), self.bsuids.len());
        if let Some(p) = &c.customer_phone {
            self.phones.insert(p.as_str().to_owned());
        }
        if let Some(b) = &c.customer_bsuid {
            self.bsuids.insert(b.as_str().to_owned());
        }
        if let Some(p) = &c.customer_parent_bsuid {
            self.parent_bsuids.insert(p.as_str().to_owned());
        }
        if let Some(u) = &c.customer_username {
            self.usernames.insert(u.as_str().to_owned());
            self.username_keys.insert(u.key());
        }
        if let Some(n) = &c.customer_profile_name {
            self.profile_names.insert(n.clone());
        }
        before != (self.phones.len(), self.bsuids.len())
    }

    /// Every identifier as it may appear in stored text (phones also without `+`, as
    /// WhatsApp writes them).
    #[must_use]
    pub fn needles(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for phone in &self.phones {
            out.push(phone.clone());
            out.push(phone.trim_start_matches('+').to_owned());
        }
        out.extend(self.bsuids.iter().cloned());
        out.extend(self.parent_bsuids.iter().cloned());
        out.extend(self.usernames.iter().cloned());
        out.retain(|n| n.len() >= 4);
        out
    }
}

/// The customer of `seed` and all their conversations in the workspace, oldest first.
///
/// # Errors
/// On a database failure.
pub async fn customer_of(
    db: &impl ConnectionTrait,
    seed: &conversation::Model,
) -> Result<(Customer, Vec<conversation::Model>), Error> {
    let mut customer = Customer::default();
    customer.absorb(seed);
    let mut found: Vec<conversation::Model> = vec![seed.clone()];
    // Each round adds the conversations sharing a phone or BSUID found so far; it ends when a
    // round finds no new identifier (a handful of rounds at most).
    for _ in 0..16 {
        let condition = Condition::any()
            .add(conversation::Column::CustomerPhone.is_in(customer.phones.iter().cloned()))
            .add(conversation::Column::CustomerBsuid.is_in(customer.bsuids.iter().cloned()))
            .add(
                conversation::Column::KeyValue
                    .is_in(customer.phones.iter().chain(customer.bsuids.iter()).cloned()),
            );
        let rows = conversation::Entity::find()
            .filter(conversation::Column::WorkspaceId.eq(seed.workspace_id))
            .filter(condition)
            .order_by_asc(conversation::Column::CreatedAt)
            .order_by_asc(conversation::Column::Id)
            .all(db)
            .await
            .context("failed to find a customer's conversations")?;
        let mut grew = false;
        for row in &rows {
            grew |= customer.absorb(row);
        }
        found = rows;
        if !grew {
            break;
        }
    }
    if !found.iter().any(|c| c.id == seed.id) {
        found.push(seed.clone());
    }
    Ok((customer, found))
}

/// The messages of the conversations, oldest first.
///
/// # Errors
/// On a database failure.
pub async fn messages_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> Result<Vec<message::Model>, Error> {
    message::Entity::find()
        .filter(message::Column::WorkspaceId.eq(workspace))
        .filter(message::Column::ConversationId.is_in(conversations.iter().copied()))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id)
        .all(db)
        .await
        .context("failed to load a customer's messages")
}

/// The attachments of the conversations.
///
/// # Errors
/// On a database failure.
pub async fn attachments_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> Result<Vec<attachment::Model>, Error> {
    attachment::Entity::find()
        .filter(attachment::Column::WorkspaceId.eq(workspace))
        .filter(attachment::Column::ConversationId.is_in(conversations.iter().copied()))
        .order_by_asc(attachment::Column::CreatedAt)
        .all(db)
        .await
        .context("failed to load a customer's attachments")
}

/// The reactions on the conversations' messages.
///
/// # Errors
/// On a database failure.
pub async fn reactions_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
) -> Result<Vec<message_reaction::Model>, Error> {
    message_reaction::Entity::find()
        .filter(message_reaction::Column::WorkspaceId.eq(workspace))
        .filter(message_reaction::Column::ConversationId.is_in(conversations.iter().copied()))
        .order_by_asc(message_reaction::Column::CreatedAt)
        .all(db)
        .await
        .context("failed to load a customer's reactions")
}

/// The events about the conversations or the contacts, in cursor order.
///
/// # Errors
/// On a database failure.
pub async fn events_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    conversations: &[ConversationId],
    contacts: &[ContactId],
) -> Result<Vec<event::Model>, Error> {
    event::Entity::find()
        .filter(event::Column::WorkspaceId.eq(workspace))
        .filter(
            Condition::any()
                .add(event::Column::ConversationId.is_in(conversations.iter().copied()))
                .add(event::Column::ContactId.is_in(contacts.iter().copied())),
        )
        .order_by_asc(event::Column::Cursor)
        .all(db)
        .await
        .context("failed to load a customer's events")
}

/// What an erasure removed.
#[derive(Debug, Default)]
pub struct Erased {
    /// Attachments of the customer's messages erased.
    pub attachments: usize,
    /// Blobs nothing refers to any more, listed for deletion after the commit.
    pub blobs: usize,
    /// Events cut to ids.
    pub events: usize,
}

/// Erases the customer from the conversations (message texts and content, reactions,
/// attachment metadata, the customer's identifiers, event data beyond types and ids), and the
/// customer's identities and dead letters in the workspace. A conversation keeps a key no
/// message can match, so the customer's next message opens a new thread.
///
/// # Errors
/// On a database failure.
pub async fn erase(
    db: &impl Announce,
    workspace: WorkspaceId,
    customer: &Customer,
    conversations: &[conversation::Model],
    contacts: &[ContactId],
    now: DateTime<Utc>,
) -> Result<Erased, Error> {
    let ids: Vec<ConversationId> = conversations.iter().map(|c| c.id).collect();
    let mut erased = erase_messages(db, workspace, Messages::OfConversations(&ids), now).await?;

    for c in conversations {
        let mut change = c.clone().into_active_model();
        change.key_value = Set(format!("erased:{}", c.id));
        change.customer_phone = Set(None);
        change.customer_bsuid = Set(None);
        change.customer_parent_bsuid = Set(None);
        change.customer_username = Set(None);
        change.customer_username_key = Set(None);
        change.customer_profile_name = Set(None);
        change.customer_profile_name_folded = Set(None);
        change.updated_at = Set(now);
        change.update(db).await.context("failed to erase a conversation's customer")?;
    }

    let identity = |kind: IdentityKind, keys: &BTreeSet<String>| {
        Condition::all()
            .add(contact_identity::Column::Kind.eq(kind))
            .add(contact_identity::Column::ValueKey.is_in(keys.iter().cloned()))
    };
    contact_identity::Entity::delete_many()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(
            Condition::any()
                .add(identity(IdentityKind::Phone, &customer.phones))
                .add(identity(IdentityKind::Bsuid, &customer.bsuids))
                .add(identity(IdentityKind::Username, &customer.username_keys))
                .add(contact_identity::Column::SourceConversationId.is_in(ids.iter().copied())),
        )
        .exec(db)
        .await
        .context("failed to erase a customer's identities")?;

    let mut contacts_of_customer: Vec<ContactId> =
        conversations.iter().filter_map(|c| c.contact_id).chain(contacts.iter().copied()).collect();
    contacts_of_customer.extend(merged_into(db, workspace, &contacts_of_customer).await?);
    contacts_of_customer.sort();
    contacts_of_customer.dedup();
    erased.events = cut_to_ids(db, events_of(db, workspace, &ids, &contacts_of_customer).await?).await?;

    let needles = customer.needles();
    if !needles.is_empty() {
        // Matched literally (`_` and `%` of a username are escaped, with an `ESCAPE` clause
        // both databases honour), and only among the workspace's own dead letters: rows
        // without a workspace are the operator's, never chosen by a tenant's request (they
        // expire after `PARLEY_DEAD_LETTER_DAYS`).
        let mentions = needles.iter().fold(Condition::any(), |any, needle| {
            let pattern = format!("%{}%", crate::inbox::like_escape(needle));
            any.add(Expr::col(dead_letter::Column::Payload).like(crate::inbox::like(pattern)))
        });
        dead_letter::Entity::delete_many()
            .filter(dead_letter::Column::WorkspaceId.eq(workspace))
            .filter(mentions)
            .exec(db)
            .await
            .context("failed to erase a customer's dead letters")?;
    }
    Ok(erased)
}

/// The messages an erasure covers: a customer's conversations, or (retention) every message of
/// the workspace stored before a time.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Messages<'a> {
    OfConversations(&'a [ConversationId]),
    StoredBefore(DateTime<Utc>),
}

impl Messages<'_> {
    /// The messages, as a condition on `messages`.
    fn condition(self, workspace: WorkspaceId) -> Condition {
        let scope = Condition::all().add(message::Column::WorkspaceId.eq(workspace));
        match self {
            Messages::OfConversations(ids) => {
                scope.add(message::Column::ConversationId.is_in(ids.iter().copied()))
            }
            Messages::StoredBefore(at) => scope.add(message::Column::CreatedAt.lt(at)),
        }
    }

    /// The ids of the messages, as a subquery (for the tables that refer to them).
    fn ids(self, workspace: WorkspaceId) -> sea_orm::sea_query::SelectStatement {
        sea_orm::sea_query::Query::select()
            .column(message::Column::Id)
            .from(message::Entity)
            .cond_where(self.condition(workspace))
            .to_owned()
    }
}

/// Erases the messages of `scope`: sends not made yet are cancelled, texts, content and
/// provider ids go, reactions go, attachments keep only their kind and status, and the bytes
/// nothing else refers to are listed for deletion after the commit (an upload sent to another
/// customer keeps its bytes). The one eraser of privacy requests and retention.
///
/// # Errors
/// On a database failure.
pub(crate) async fn erase_messages(
    db: &impl Announce,
    workspace: WorkspaceId,
    scope: Messages<'_>,
    now: DateTime<Utc>,
) -> Result<Erased, Error> {
    let mut erased = Erased::default();
    message::Entity::update_many()
        .col_expr(message::Column::Status, Expr::value(MessageStatus::Failed))
        .col_expr(message::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(scope.condition(workspace))
        .filter(message::Column::Direction.eq(Direction::Outbound))
        .filter(message::Column::Status.eq(MessageStatus::Pending))
        .exec(db)
        .await
        .context("failed to cancel pending sends")?;
    let kept = Condition::any()
        .add(message::Column::Text.is_not_null())
        .add(message::Column::Content.is_not_null())
        .add(message::Column::ExternalId.is_not_null())
        .add(message::Column::ExternalIdSealed.is_not_null())
        .add(message::Column::IdempotencyKey.is_not_null())
        .add(message::Column::ErrorTitle.is_not_null());
    message::Entity::update_many()
        .col_expr(message::Column::Text, Expr::value(Option::<String>::None))
        .col_expr(message::Column::Content, Expr::value(Option::<Value>::None))
        .col_expr(message::Column::ExternalId, Expr::value(Option::<String>::None))
        .col_expr(message::Column::ExternalIdSealed, Expr::value(Option::<String>::None))
        .col_expr(message::Column::IdempotencyKey, Expr::value(Option::<String>::None))
        .col_expr(message::Column::ErrorTitle, Expr::value(Option::<String>::None))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(scope.condition(workspace))
        .filter(kept)
        .exec(db)
        .await
        .context("failed to erase messages")?;
    message_reaction::Entity::delete_many()
        .filter(message_reaction::Column::WorkspaceId.eq(workspace))
        .filter(message_reaction::Column::MessageId.in_subquery(scope.ids(workspace)))
        .exec(db)
        .await
        .context("failed to erase reactions")?;

    let attachments = match scope {
        Messages::OfConversations(ids) => attachments_of(db, workspace, ids).await?,
        Messages::StoredBefore(_) => attachment::Entity::find()
            .filter(attachment::Column::WorkspaceId.eq(workspace))
            .filter(attachment::Column::MessageId.in_subquery(scope.ids(workspace)))
            .filter(
                attachment::Column::FailureReason
                    .ne("erased")
                    .or(attachment::Column::FailureReason.is_null()),
            )
            .all(db)
            .await
            .context("failed to load the attachments to erase")?,
    };
    let mut keys = Vec::new();
    for row in attachments {
        keys.extend(row.blob_key.clone());
        erased.attachments += 1;
        let mut change = row.into_active_model();
        change.file_name = Set(None);
        change.caption = Set(None);
        change.sha256 = Set(None);
        change.provider_sha256 = Set(None);
        change.provider_media_id = Set(None);
        change.provider_url = Set(None);
        change.blob_key = Set(None);
        change.size_bytes = Set(None);
        change.status = Set(AttachmentStatus::Failed);
        change.failure_reason = Set(Some("erased".to_owned()));
        change.next_attempt_at = Set(None);
        change.updated_at = Set(now);
        change.update(db).await.context("failed to erase an attachment")?;
    }
    erased.blobs = release_blobs(db, workspace, &keys, now).await?;
    Ok(erased)
}

/// Cuts the `data` of events to ids (see [`ids_only`]); returns how many.
///
/// # Errors
/// On a database failure.
pub(crate) async fn cut_to_ids(db: &impl ConnectionTrait, events: Vec<event::Model>) -> Result<usize, Error> {
    let count = events.len();
    for row in events {
        let mut change = row.clone().into_active_model();
        change.payload = Set(ids_only(&row.payload));
        change.update(db).await.context("failed to erase an event's data")?;
    }
    Ok(count)
}

/// The contacts merged, at any depth, into any of `contacts` (a merge's `contact.merged` event
/// names the contact that went in `mergedContactId`): their own events described the same
/// person and are erased with the survivor's.
///
/// # Errors
/// On a database failure.
pub async fn merged_into(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    contacts: &[ContactId],
) -> Result<Vec<ContactId>, Error> {
    let mut found: BTreeSet<ContactId> = BTreeSet::new();
    let mut frontier: Vec<ContactId> = contacts.to_vec();
    while !frontier.is_empty() {
        let merges = event::Entity::find()
            .filter(event::Column::WorkspaceId.eq(workspace))
            .filter(event::Column::EventType.eq(crate::events::types::CONTACT_MERGED))
            .filter(event::Column::ContactId.is_in(frontier.iter().copied()))
            .all(db)
            .await
            .context("failed to find merged contacts")?;
        frontier = merges
            .iter()
            .filter_map(|e| e.payload.pointer("/data/mergedContactId").and_then(Value::as_str))
            .filter_map(|id| id.parse::<ContactId>().ok())
            .filter(|id| !contacts.contains(id) && found.insert(*id))
            .collect();
    }
    Ok(found.into_iter().collect())
}

/// After the customer's attachments let go of `keys`: the upload rows that only the erased
/// messages used (every row still holding the key is an upload, sent to no one else) go too,
/// with their file name and digest; then the keys nothing refers to are listed for deletion
/// after the commit (an upload sent to another customer keeps its bytes, and so does that
/// customer's attachment). Returns how many blobs were listed.
async fn release_blobs(
    db: &impl Announce,
    workspace: WorkspaceId,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<usize, Error> {
    if keys.is_empty() {
        return Ok(0);
    }
    let holders = attachment::Entity::find()
        .filter(attachment::Column::WorkspaceId.eq(workspace))
        .filter(attachment::Column::BlobKey.is_in(keys.iter().cloned()))
        .all(db)
        .await
        .context("failed to find who else holds an erased file")?;
    let only_uploads = |key: &String| {
        let held: Vec<_> = holders.iter().filter(|h| h.blob_key.as_ref() == Some(key)).collect();
        !held.is_empty() && held.iter().all(|h| h.message_id.is_none())
    };
    let unsent: Vec<AttachmentId> =
        holders.iter().filter(|h| h.blob_key.as_ref().is_some_and(only_uploads)).map(|h| h.id).collect();
    if !unsent.is_empty() {
        attachment::Entity::delete_many()
            .filter(attachment::Column::Id.is_in(unsent))
            .exec(db)
            .await
            .context("failed to erase uploads only the customer's messages used")?;
    }
    let free = crate::blob_deletions::unreferenced(db, keys).await?;
    crate::blob_deletions::enqueue(db, workspace, free, now).await
}

/// Parley's own ids (UUIDs), a list of them, or null: not a CRM's `externalId`, which names
/// the person elsewhere.
fn is_parley_id(value: &Value) -> bool {
    let uuid = |v: &Value| v.as_str().is_some_and(|s| uuid::Uuid::parse_str(s).is_ok());
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().all(uuid),
        other => uuid(other),
    }
}

/// A CloudEvent with its `data` cut to ids: the envelope stays, `data` keeps only the fields
/// named `…Id` or `…Ids` (top level) that hold Parley's ids, so an integration still sees
/// what happened to which record, and nothing of what was said or who said it.
fn ids_only(payload: &Value) -> Value {
    let mut out = payload.clone();
    let data: Map<String, Value> = payload
        .get("data")
        .and_then(Value::as_object)
        .map(|data| {
            data.iter()
                .filter(|(key, value)| (key.ends_with("Id") || key.ends_with("Ids")) && is_parley_id(value))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    out["data"] = Value::Object(data);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ids_only;

    #[test]
    fn event_data_keeps_only_ids() {
        let (m, c) = (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string());
        let payload = json!({ "id": "e1", "type": "message.received", "data": {
            "messageId": m, "conversationId": c, "contactId": null, "text": "my card is 4242",
            "customer": { "phoneNumber": "+16505550100" }, "conversationIds": [c], "kind": "text",
            "externalId": "crm-42", "previousStatus": "SENT" } });
        assert_eq!(
            ids_only(&payload),
            json!({ "id": "e1", "type": "message.received", "data": {
                "messageId": m, "conversationId": c, "contactId": null, "conversationIds": [c] } })
        );
    }
}
