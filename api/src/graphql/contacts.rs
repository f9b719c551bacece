//! Contacts: the `Contact` type, the contact list, and creating, linking and unlinking.

use super::conversations::{Contact, Conversation};
use super::guards::RoleGuard;
use super::{db, now, pagination, parse_id, viewer};
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
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

/// A contact created from a conversation.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// Name (1 to 200 characters).
    pub name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Phone number, any common formatting; stored E.164.
    pub phone_number: Option<String>,
}

/// Linking conversations to CRM contacts.
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Creates a contact from a conversation (its username, BSUID and phone become the
    /// contact's identities) and links the conversation to it.
    #[graphql(guard = "RoleGuard::new(Permission::EditContacts)")]
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        input: CreateContactInput,
    ) -> Result<Contact> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let input = crate::contacts::ContactInput {
            name: input.name,
            email: input.email,
            phone_number: input.phone_number,
        };
        let (contact, _) =
            crate::contacts::create_contact(db(ctx)?, viewer(ctx)?, id, &input, now(ctx)).await?;
        Ok(Contact(contact))
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
