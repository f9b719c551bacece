//! Contacts (CRM records) and the identities linked to them.

use chrono::{DateTime, Utc};
use domain::search::{SearchQuery, fold_name};
use domain::{AgentId, ContactId, ConversationId, Email, IdentityKind, PhoneNumber, WorkspaceId};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::dialect::Dialect;
use crate::entities::{contact, contact_identity, conversation};
use crate::error::{DbContext, Error};
use crate::inbox::{Page, SearchPath, like, like_escape};

/// A new contact.
#[derive(Debug)]
pub struct NewContact<'a> {
    pub id: ContactId,
    pub workspace_id: WorkspaceId,
    pub name: &'a str,
    pub email: Option<&'a Email>,
    pub phone: Option<&'a PhoneNumber>,
    pub created_by: Option<AgentId>,
    /// The CRM's own id (unique per workspace).
    pub external_id: Option<&'a str>,
    /// A JSON object.
    pub attributes: Option<&'a serde_json::Value>,
}

/// # Errors
/// On a database failure.
pub async fn create(
    db: &impl ConnectionTrait,
    new: NewContact<'_>,
    now: DateTime<Utc>,
) -> Result<contact::Model, Error> {
    contact::Entity::insert(row(new, now))
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to create contact", "a contact with this externalId"))
}

fn row(new: NewContact<'_>, now: DateTime<Utc>) -> contact::ActiveModel {
    contact::ActiveModel {
        id: Set(new.id),
        workspace_id: Set(new.workspace_id),
        name: Set(new.name.trim().to_owned()),
        name_folded: Set(fold_name(new.name)),
        email: Set(new.email.cloned()),
        phone: Set(new.phone.cloned()),
        created_by_agent_id: Set(new.created_by),
        external_id: Set(new.external_id.map(str::to_owned)),
        attributes: Set(new.attributes.cloned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Creates the contact unless the workspace has one with its `external_id` already (then
/// nothing is written); `true` when created. Two concurrent calls with one external id create
/// one contact: the second waits for the first's commit and then finds it.
///
/// # Errors
/// On a database failure.
pub async fn insert_if_absent(
    db: &impl ConnectionTrait,
    new: NewContact<'_>,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let inserted = contact::Entity::insert(row(new, now))
        .on_conflict(
            sea_orm::sea_query::OnConflict::columns([
                contact::Column::WorkspaceId,
                contact::Column::ExternalId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .context("failed to upsert contact")?;
    Ok(inserted > 0)
}

/// The workspace's contact with this external id, locked for a change (PostgreSQL).
///
/// # Errors
/// On a database failure.
pub async fn find_by_external_id_for_update(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    external_id: &str,
) -> Result<Option<contact::Model>, Error> {
    let query = contact::Entity::find()
        .filter(contact::Column::WorkspaceId.eq(workspace))
        .filter(contact::Column::ExternalId.eq(external_id));
    crate::dialect::Dialect::of(db).lock_for_update(query).one(db).await.context("failed to load contact")
}

/// A contact of the workspace, locked for a change (PostgreSQL).
///
/// # Errors
/// On a database failure.
pub async fn find_for_update(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: ContactId,
) -> Result<Option<contact::Model>, Error> {
    let query = contact::Entity::find_by_id(id).filter(contact::Column::WorkspaceId.eq(workspace));
    crate::dialect::Dialect::of(db).lock_for_update(query).one(db).await.context("failed to load contact")
}

/// What to change on a contact; `None` leaves a field, `Some(None)` clears it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactChange {
    pub name: Option<String>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<PhoneNumber>>,
    pub external_id: Option<Option<String>>,
    pub attributes: Option<Option<serde_json::Value>>,
}

/// Writes a change of `current` (and `updated_at = now`).
///
/// # Errors
/// [`Error::Duplicate`] when another contact of the workspace has the new external id.
pub async fn update(
    db: &impl ConnectionTrait,
    current: contact::Model,
    change: ContactChange,
    now: DateTime<Utc>,
) -> Result<contact::Model, Error> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut model = current.into_active_model();
    if let Some(name) = change.name {
        model.name_folded = Set(fold_name(&name));
        model.name = Set(name.trim().to_owned());
    }
    if let Some(email) = change.email {
        model.email = Set(email);
    }
    if let Some(phone) = change.phone {
        model.phone = Set(phone);
    }
    if let Some(external_id) = change.external_id {
        model.external_id = Set(external_id);
    }
    if let Some(attributes) = change.attributes {
        model.attributes = Set(attributes);
    }
    model.updated_at = Set(now);
    model
        .update(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to update contact", "a contact with this externalId"))
}

/// Moves every identity of contact `from` to contact `to` (a merge).
///
/// # Errors
/// On a database failure.
pub async fn move_identities(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    from: ContactId,
    to: ContactId,
) -> Result<u64, Error> {
    let result = contact_identity::Entity::update_many()
        .col_expr(contact_identity::Column::ContactId, Expr::value(to))
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::ContactId.eq(from))
        .exec(db)
        .await
        .context("failed to move contact identities")?;
    Ok(result.rows_affected)
}

/// Removes an identity the contact was given directly (not by linking a conversation): what
/// a changed phone number replaces.
///
/// # Errors
/// On a database failure.
pub async fn remove_own_identity(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    contact: ContactId,
    kind: IdentityKind,
    key: &str,
) -> Result<u64, Error> {
    let result = contact_identity::Entity::delete_many()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::ContactId.eq(contact))
        .filter(contact_identity::Column::Kind.eq(kind))
        .filter(contact_identity::Column::ValueKey.eq(key))
        .filter(contact_identity::Column::SourceConversationId.is_null())
        .exec(db)
        .await
        .context("failed to remove a contact identity")?;
    Ok(result.rows_affected)
}

/// Deletes a contact and its identities (its conversations are unlinked by the caller first).
///
/// # Errors
/// On a database failure.
pub async fn delete(db: &impl ConnectionTrait, workspace: WorkspaceId, id: ContactId) -> Result<(), Error> {
    contact_identity::Entity::delete_many()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::ContactId.eq(id))
        .exec(db)
        .await
        .context("failed to delete contact identities")?;
    contact::Entity::delete_many()
        .filter(contact::Column::WorkspaceId.eq(workspace))
        .filter(contact::Column::Id.eq(id))
        .exec(db)
        .await
        .context("failed to delete contact")?;
    Ok(())
}

/// An identity to save on a contact.
#[derive(Debug)]
pub struct NewIdentity<'a> {
    pub workspace_id: WorkspaceId,
    pub contact_id: ContactId,
    pub kind: IdentityKind,
    /// As shown (`@Carlos_MX`, `+16505551234`, `US.123…`).
    pub value: &'a str,
    /// As compared (`carlos_mx`): unique per workspace and kind.
    pub key: &'a str,
    /// The conversation whose link added it.
    pub source: Option<ConversationId>,
}

/// Saves an identity on a contact.
///
/// # Errors
/// [`Error::Duplicate`] when the workspace already has this identity on a contact.
pub async fn add_identity(
    db: &impl ConnectionTrait,
    new: NewIdentity<'_>,
    now: DateTime<Utc>,
) -> Result<contact_identity::Model, Error> {
    let model = contact_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(new.workspace_id),
        contact_id: Set(new.contact_id),
        kind: Set(new.kind),
        value: Set(new.value.to_owned()),
        value_key: Set(new.key.to_owned()),
        source_conversation_id: Set(new.source),
        created_at: Set(now),
    };
    contact_identity::Entity::insert(model)
        .exec_with_returning(db)
        .await
        .map_err(|e| Error::from_db(e, "failed to save contact identity", "this identity on a contact"))
}

/// The contact that owns an identity, if any.
///
/// # Errors
/// On a database failure.
pub async fn owner_of_identity(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    kind: IdentityKind,
    key: &str,
) -> Result<Option<contact_identity::Model>, Error> {
    contact_identity::Entity::find()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::Kind.eq(kind))
        .filter(contact_identity::Column::ValueKey.eq(key))
        .one(db)
        .await
        .context("failed to look up identity owner")
}

/// # Errors
/// On a database failure.
pub async fn find(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    id: ContactId,
) -> Result<Option<contact::Model>, Error> {
    contact::Entity::find_by_id(id)
        .filter(contact::Column::WorkspaceId.eq(workspace))
        .one(db)
        .await
        .context("failed to load contact")
}

/// # Errors
/// On a database failure.
pub async fn find_by_ids(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    ids: &[ContactId],
) -> Result<Vec<contact::Model>, Error> {
    contact::Entity::find()
        .filter(Dialect::of(db).scope(contact::Column::WorkspaceId, workspace))
        .filter(contact::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
        .context("failed to load contacts")
}

/// The identities of the given contacts.
///
/// # Errors
/// On a database failure.
pub async fn identities_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    contacts: &[ContactId],
) -> Result<Vec<contact_identity::Model>, Error> {
    contact_identity::Entity::find()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::ContactId.is_in(contacts.iter().map(ContactId::as_uuid)))
        .order_by_asc(contact_identity::Column::CreatedAt)
        .order_by_asc(contact_identity::Column::Id)
        .all(db)
        .await
        .context("failed to load contact identities")
}

/// Position in the contact list (newest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContactCursor {
    pub created_at: DateTime<Utc>,
    pub id: ContactId,
}

/// One page of the workspace's contacts, newest first, optionally searched by name
/// (substring), username (prefix) or phone (digits).
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    search: Option<&SearchQuery>,
    after: Option<ContactCursor>,
    limit: u64,
) -> Result<Vec<contact::Model>, Error> {
    let workspace_only = Condition::all().add(contact::Column::WorkspaceId.eq(workspace));
    let after = after.map(|cursor| {
        Condition::any().add(contact::Column::CreatedAt.lt(cursor.created_at)).add(
            Condition::all()
                .add(contact::Column::CreatedAt.eq(cursor.created_at))
                .add(contact::Column::Id.lt(cursor.id)),
        )
    });
    let mut scope = workspace_only.clone();
    if let Some(after) = after {
        scope = scope.add(after);
    }
    let mut query = contact::Entity::find().filter(scope.clone());
    if let Some(search) = search {
        let page = Page::<contact::Entity> {
            scope,
            filters: workspace_only,
            order: (contact::Column::CreatedAt, contact::Column::Id),
            limit,
        };
        query = query.filter(page.any_of(Dialect::of(db), search_paths(db, workspace, search)));
    }
    query
        .order_by_desc(contact::Column::CreatedAt)
        .order_by_desc(contact::Column::Id)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list contacts")
}

/// The paths of a contact search, each as a condition on the contact and as a query of the
/// contacts it matches: a username prefix (the identities' pattern index on PostgreSQL), the
/// name (substring, trigram index) and the phone (digits, trigram index).
fn search_paths(db: &impl ConnectionTrait, workspace: WorkspaceId, search: &SearchQuery) -> Vec<SearchPath> {
    let own = |condition: Condition| {
        let ids = Query::select()
            .column(contact::Column::Id)
            .from(contact::Entity)
            .and_where(Expr::col(contact::Column::WorkspaceId).eq(workspace))
            .cond_where(condition.clone())
            .to_owned();
        (condition, ids)
    };
    let key = contact_identity::Column::ValueKey;
    let mut usernames = Query::select()
        .column(contact_identity::Column::ContactId)
        .from(contact_identity::Entity)
        .and_where(Expr::col(contact_identity::Column::WorkspaceId).eq(workspace))
        .and_where(Expr::col(contact_identity::Column::Kind).eq(IdentityKind::Username))
        .and_where(Expr::col(key).like(like(format!("{}%", like_escape(&search.username_prefix)))))
        .to_owned();
    if let Some(range) =
        Dialect::of(db).prefix_range((contact_identity::Entity, key), &search.username_prefix)
    {
        usernames.and_where(range);
    }
    let mut paths = vec![(
        Condition::all().add(Expr::col(contact::Column::Id).in_subquery(usernames.clone())),
        usernames,
    )];
    if let Some(text) = &search.name_contains {
        paths.push(own(Condition::all()
            .add(Expr::col(contact::Column::NameFolded).like(like(format!("%{}%", like_escape(text)))))));
    }
    if let Some(digits) = &search.phone_digits {
        paths.push(own(Condition::all()
            .add(Expr::col(contact::Column::Phone).like(like(format!("%{}%", like_escape(digits)))))));
    }
    paths
}

/// Removes the identities a conversation's link added to a contact (what `unlinkContact`
/// undoes); identities the contact had before stay.
///
/// # Errors
/// On a database failure.
pub async fn remove_identities_from(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    contact: ContactId,
    conversation: ConversationId,
) -> Result<u64, Error> {
    let result = contact_identity::Entity::delete_many()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::ContactId.eq(contact))
        .filter(contact_identity::Column::SourceConversationId.eq(conversation))
        .exec(db)
        .await
        .context("failed to remove contact identities")?;
    Ok(result.rows_affected)
}

/// The owners of any of these identities (for suggestions), by kind and comparison key.
///
/// # Errors
/// On a database failure.
pub async fn owners_of(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    keys: &[(IdentityKind, String)],
) -> Result<Vec<contact_identity::Model>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<String> = keys.iter().map(|(_, k)| k.clone()).collect();
    let kinds: Vec<IdentityKind> = keys.iter().map(|(kind, _)| *kind).collect();
    let rows = contact_identity::Entity::find()
        .filter(contact_identity::Column::WorkspaceId.eq(workspace))
        .filter(contact_identity::Column::Kind.is_in(kinds))
        .filter(contact_identity::Column::ValueKey.is_in(values))
        .all(db)
        .await
        .context("failed to look up identity owners")?;
    Ok(rows
        .into_iter()
        .filter(|row| keys.iter().any(|(kind, key)| *kind == row.kind && *key == row.value_key))
        .collect())
}

/// The contacts of the workspace that have `phone`, as their phone or as an identity: at
/// most two (enough to tell one from several).
///
/// # Errors
/// On a database failure.
pub async fn with_phone(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    phone: &PhoneNumber,
) -> Result<Vec<ContactId>, Error> {
    let mut found: Vec<ContactId> = contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::WorkspaceId.eq(workspace))
        .filter(contact::Column::Phone.eq(phone.as_str()))
        .limit(2)
        .into_tuple()
        .all(db)
        .await
        .context("failed to look up contacts by phone")?;
    if let Some(owner) = owner_of_identity(db, workspace, IdentityKind::Phone, phone.as_str()).await?
        && !found.contains(&owner.contact_id)
    {
        found.push(owner.contact_id);
    }
    Ok(found)
}

/// Marks a contact as changed now (an identity was added to it).
///
/// # Errors
/// On a database failure.
pub async fn touch(
    db: &impl ConnectionTrait,
    contact: contact::Model,
    now: DateTime<Utc>,
) -> Result<contact::Model, Error> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    let mut change = contact.into_active_model();
    change.updated_at = Set(now);
    change.update(db).await.context("failed to update contact")
}

/// Moves every conversation linked to contact `from` to contact `to` (a merge), or unlinks
/// them (`None`: the contact is deleted); returns their ids.
///
/// # Errors
/// On a database failure.
pub async fn relink_all(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    from: ContactId,
    to: Option<ContactId>,
    now: DateTime<Utc>,
) -> Result<Vec<ConversationId>, Error> {
    let ids: Vec<ConversationId> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::WorkspaceId.eq(workspace))
        .filter(conversation::Column::ContactId.eq(from))
        .order_by_asc(conversation::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .context("failed to list a contact's conversations")?;
    if ids.is_empty() {
        return Ok(ids);
    }
    let mut update = conversation::Entity::update_many()
        .col_expr(conversation::Column::ContactId, Expr::value(to))
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now));
    if to.is_none() {
        update = update
            .col_expr(conversation::Column::LinkedByAgentId, Expr::value(Option::<AgentId>::None))
            .col_expr(conversation::Column::LinkedAt, Expr::value(Option::<DateTime<Utc>>::None));
    }
    update
        .filter(conversation::Column::WorkspaceId.eq(workspace))
        .filter(conversation::Column::ContactId.eq(from))
        .exec(db)
        .await
        .context("failed to relink a contact's conversations")?;
    Ok(ids)
}
