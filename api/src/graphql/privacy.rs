//! Privacy requests: exporting and erasing a customer (admins).

use async_graphql::{Context, ID, Json, Object, Result};
use domain::ConversationId;

use super::context::{db, now, parse_id, viewer};
use super::guards::RoleGuard;

/// Exporting and erasing a customer.
#[derive(Default)]
pub struct PrivacyMutation;

#[Object]
impl PrivacyMutation {
    /// Everything Parley stores about this conversation's customer across the workspace
    /// (ADMIN; audited): identities, conversations, messages with attachment metadata and
    /// reactions, linked contacts with their identities, events.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn export_customer(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
    ) -> Result<Json<serde_json::Value>> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        Ok(Json(crate::contacts::privacy::export(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?))
    }

    /// Erases this conversation's customer across the workspace (ADMIN; audited): message
    /// texts and content, reactions, media bytes and metadata, the customer's phone, BSUID,
    /// parent BSUID, username and profile name, contact identities, and event data beyond
    /// ids; the linked contacts too with `includeContact`. Event `customer.erased`. The
    /// customer's next message opens a new thread. True when done.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn erase_customer(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        #[graphql(default = false)] include_contact: bool,
    ) -> Result<bool> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        crate::contacts::privacy::erase(db(ctx)?, viewer(ctx)?, id, include_contact, now(ctx)).await?;
        Ok(true)
    }
}
