//! Contacts: the contact list; creating, linking and unlinking; updating, upserting by
//! `externalId`, merging and deleting.

use super::context::{db, now, parse_id, viewer};
use super::conversations::{Contact, Conversation};
use super::guards::RoleGuard;
use super::pagination;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Json, MaybeUndefined, Object, Result};
use serde_json::Value;

use crate::contacts::records::{self, ContactFields};
use domain::Permission;
use domain::{ContactId, ConversationId};
use persistence::contacts::ContactCursor;

/// Contacts.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// The workspace's contacts, newest first, optionally searched by name, `@username` or
    /// phone digits.
    #[graphql(complexity = "super::pagination::page_cost(first, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> Result<Connection<String, Contact>> {
        let limit = pagination::page_size(first)?;
        let after = after.as_deref().map(pagination::decode).transpose()?;
        let cursor = after.map(|(created_at, id)| ContactCursor { created_at, id });
        let rows =
            crate::contacts::list(db(ctx)?, viewer(ctx)?, search.as_deref(), cursor, limit + 1).await?;
        Ok(pagination::connection(
            rows,
            limit,
            after.is_some(),
            |c| pagination::encode(c.created_at, c.id),
            Contact,
        ))
    }

    /// One contact of the workspace.
    async fn contact(&self, ctx: &Context<'_>, id: ID) -> Result<Contact> {
        let id = parse_id::<ContactId>(&id, "id")?;
        Ok(Contact(crate::contacts::get(db(ctx)?, viewer(ctx)?, id).await?))
    }
}

/// A new contact, from a conversation or on its own.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number, any common formatting; stored E.164.
    pub phone_number: Option<String>,
    /// The CRM's own id of the record (unique in the workspace, at most 200 characters).
    pub external_id: Option<String>,
    /// Free attributes: a JSON object of at most 50 keys and 16 KB.
    pub attributes: Option<Json<Value>>,
}

/// Changes to a contact: an absent field stays as it is, a null clears it (`name` cannot be
/// cleared).
#[derive(InputObject)]
pub struct UpdateContactInput {
    /// Name (1 to 200 characters).
    pub name: Option<String>,
    /// E-mail address.
    pub email: MaybeUndefined<String>,
    /// Phone number, any common formatting; stored E.164.
    pub phone_number: MaybeUndefined<String>,
    /// The CRM's own id of the record (unique in the workspace).
    pub external_id: MaybeUndefined<String>,
    /// Free attributes (replaced whole): a JSON object of at most 50 keys and 16 KB.
    pub attributes: MaybeUndefined<Json<Value>>,
}

/// A contact identified by the CRM's own id: created when the workspace has none with that
/// `externalId`, else updated (absent fields stay; `name` is required to create).
#[derive(InputObject)]
pub struct UpsertContactInput {
    /// The CRM's own id of the record (unique in the workspace).
    pub external_id: String,
    /// Name (1 to 200 characters).
    pub name: Option<String>,
    /// E-mail address.
    pub email: MaybeUndefined<String>,
    /// Phone number, any common formatting; stored E.164.
    pub phone_number: MaybeUndefined<String>,
    /// Free attributes (replaced whole): a JSON object of at most 50 keys and 16 KB.
    pub attributes: MaybeUndefined<Json<Value>>,
}

/// Contacts: creating, linking, unlinking, updating, upserting, merging, deleting.
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates a contact. With a `conversationId` the conversation's username, BSUID and phone
    /// become the contact's identities and the conversation is linked to it; without, it is a
    /// CRM's record (its phone becomes an identity).
    #[graphql(guard = "RoleGuard::new(Permission::EditContacts)")]
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        conversation_id: Option<ID>,
        input: CreateContactInput,
    ) -> Result<Contact> {
        let id = conversation_id.map(|id| parse_id::<ConversationId>(&id, "conversationId")).transpose()?;
        let fields = ContactFields {
            name: Some(input.name),
            email: Some(input.email),
            phone_number: Some(input.phone_number),
            external_id: Some(input.external_id),
            attributes: Some(input.attributes.map(|a| a.0)),
        };
        Ok(Contact(crate::contacts::create_contact(db(ctx)?, viewer(ctx)?, id, &fields, now(ctx)).await?))
    }

    /// Changes a contact (event `contact.updated` when something changed).
    #[graphql(guard = "RoleGuard::new(Permission::EditContacts)")]
    async fn update_contact(&self, ctx: &Context<'_>, id: ID, input: UpdateContactInput) -> Result<Contact> {
        let id = parse_id::<ContactId>(&id, "id")?;
        let fields = ContactFields {
            name: input.name,
            email: input.email.into(),
            phone_number: input.phone_number.into(),
            external_id: input.external_id.into(),
            attributes: input.attributes.map_value(|a| a.0).into(),
        };
        Ok(Contact(records::update(db(ctx)?, viewer(ctx)?, id, &fields, now(ctx)).await?))
    }

    /// Creates or updates the contact with this `externalId` (idempotent; two racing calls
    /// make one contact).
    #[graphql(guard = "RoleGuard::new(Permission::EditContacts)")]
    async fn upsert_contact(&self, ctx: &Context<'_>, input: UpsertContactInput) -> Result<Contact> {
        let fields = ContactFields {
            name: input.name,
            email: input.email.into(),
            phone_number: input.phone_number.into(),
            external_id: Some(Some(input.external_id)),
            attributes: input.attributes.map_value(|a| a.0).into(),
        };
        Ok(Contact(records::upsert(db(ctx)?, viewer(ctx)?, &fields, now(ctx)).await?))
    }

    /// Merges `secondaryId` into `primaryId` (ADMIN): the secondary's conversations and
    /// identities move to the primary, the primary's set fields win, the secondary is deleted
    /// (event `contact.merged`). Returns the primary.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn merge_contacts(&self, ctx: &Context<'_>, primary_id: ID, secondary_id: ID) -> Result<Contact> {
        let primary = parse_id::<ContactId>(&primary_id, "primaryId")?;
        let secondary = parse_id::<ContactId>(&secondary_id, "secondaryId")?;
        Ok(Contact(records::merge(db(ctx)?, viewer(ctx)?, primary, secondary, now(ctx)).await?))
    }

    /// Deletes a contact (ADMIN): its conversations are unlinked and its identities removed
    /// (event `contact.deleted`). True when done.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn delete_contact(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id::<ContactId>(&id, "id")?;
        records::delete(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?;
        Ok(true)
    }

    /// Links a conversation to an existing contact (idempotent; relinking needs ADMIN).
    #[graphql(guard = "RoleGuard::new(Permission::EditContacts)")]
    async fn link_to_existing(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        contact_id: ID,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let contact = parse_id::<ContactId>(&contact_id, "contactId")?;
        Ok(Conversation(
            crate::contacts::link_to_existing(db(ctx)?, viewer(ctx)?, id, contact, now(ctx)).await?,
        ))
    }

    /// Unlinks a conversation from its contact (ADMIN, or the agent who linked it within 24 h).
    #[graphql(guard = "RoleGuard::new(Permission::EditContacts)")]
    async fn unlink_contact(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        Ok(Conversation(crate::contacts::unlink(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }
}
