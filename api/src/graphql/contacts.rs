//! Contacts: the `Contact` type, the contact list, and creating, linking and unlinking.

use super::conversations::{Conversation, conversation_page};
use super::loaders::IdentitiesKey;
use super::{db, loaders, now, pagination, parse_id, viewer};
use crate::error::ApiError;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};
use domain::{ContactId, ConversationId};
use persistence::contacts::ContactCursor;
use persistence::conversations::ConversationFilter as StoreFilter;
use persistence::entities::{contact, contact_identity};

/// A CRM record that agents create or link.
pub struct Contact(pub contact::Model);

impl Contact {
    async fn identities(&self, ctx: &Context<'_>) -> Result<Vec<contact_identity::Model>> {
        Ok(loaders(ctx)?
            .load_one(IdentitiesKey(self.0.id))
            .await
            .map_err(ApiError::from)?
            .unwrap_or_default())
    }
}

fn values_of(identities: &[contact_identity::Model], kind: domain::IdentityKind) -> Vec<String> {
    identities.iter().filter(|i| i.kind == kind).map(|i| i.value.clone()).collect()
}

/// A CRM record that agents create or link.
#[Object]
impl Contact {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// E-mail address.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_ref().map(domain::Email::as_str)
    }

    /// E.164 phone number.
    async fn phone_number(&self) -> Option<&str> {
        self.0.phone.as_ref().map(domain::PhoneNumber::as_str)
    }

    /// WhatsApp usernames saved on the contact, as `@name`.
    async fn usernames(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(values_of(&self.identities(ctx).await?, domain::IdentityKind::Username)
            .into_iter()
            .map(|u| domain::Username::parse(&u).map(|u| u.display()).unwrap_or(u))
            .collect())
    }

    /// BSUIDs saved on the contact.
    async fn bsuids(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        Ok(values_of(&self.identities(ctx).await?, domain::IdentityKind::Bsuid))
    }

    /// When the contact was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Every conversation linked to the contact (its history), newest activity first.
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Conversation>> {
        let filter = StoreFilter { contact: Some(self.0.id), ..Default::default() };
        conversation_page(ctx, &filter, first, after).await
    }
}

/// Contacts.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// The workspace's contacts, newest first, optionally searched by name, `@username` or
    /// phone digits.
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
    async fn unlink_contact(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        Ok(Conversation(crate::contacts::unlink(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }
}
