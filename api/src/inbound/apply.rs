//! One Meta webhook, applied in one transaction (PRODUCT.md section 7).
//!
//! Every `entry[].changes[]` is routed by its business number. Messages go through
//! threading ([`super::messages`]); statuses move outbound messages forward only; BSUID rotations
//! re-key conversations; business username updates keep the number's username in step. A
//! change Parley cannot route or read is kept whole as a dead letter (Meta is answered 200,
//! so it does not retry for a week), and the rest of the webhook is still applied.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::WorkspaceId;
use persistence::conversations::ConversationChange;
use persistence::entities::business_number;
use persistence::messages::{digest_wamids, external_id_digest, scrub_wamids};
use persistence::sealed::Keyring;
use persistence::{Announce, Database, business_numbers, conversations, dead_letters, messages, receipts};
use serde_json::{Value, json};

use super::messages::{self as ingest, IngestOutcome};
use crate::inbound::payload::{
    BusinessUsernameUpdate, Change, MessagesValue, Metadata, UserIdUpdateValue, Webhook, read_value,
};
use crate::inbound::read::{
    InboundError, StatusUpdate, read_identity_change, read_message, read_status, read_username_update,
    username_update_number,
};

/// What one webhook did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSummary {
    /// New messages stored.
    pub messages: usize,
    /// Messages already stored (Meta's retries and duplicate deliveries).
    pub duplicates: usize,
    /// Status updates applied.
    pub statuses: usize,
    /// Identity changes applied (conversations updated).
    pub identity_changes: usize,
    /// Business username updates applied.
    pub usernames: usize,
    /// Reactions set or removed (on the messages they name).
    pub reactions: usize,
    /// Changes or items kept as dead letters.
    pub dead_letters: usize,
    /// Items understood and deliberately ignored (statuses of messages Parley did not send…).
    pub ignored: usize,
}

struct Router<'a, C> {
    db: &'a C,
    now: DateTime<Utc>,
    keyring: &'a Keyring,
    numbers: HashMap<String, Option<business_number::Model>>,
    summary: WebhookSummary,
}

impl<C: Announce> Router<'_, C> {
    async fn number(
        &mut self,
        phone_number_id: &str,
    ) -> Result<Option<business_number::Model>, persistence::Error> {
        if let Some(found) = self.numbers.get(phone_number_id) {
            return Ok(found.clone());
        }
        let found = business_numbers::find_by_phone_number_id(self.db, phone_number_id).await?;
        self.numbers.insert(phone_number_id.to_owned(), found.clone());
        Ok(found)
    }

    /// Reads a change's value and finds its business number; what cannot be read or routed
    /// becomes a dead letter and `None`.
    async fn route<T: serde::de::DeserializeOwned>(
        &mut self,
        waba: Option<&str>,
        change: &Change,
        whole: &Value,
        metadata: fn(&T) -> &Metadata,
    ) -> Result<Option<(T, business_number::Model)>, persistence::Error> {
        let value: T = match read_value(&change.field, &change.value) {
            Ok(v) => v,
            Err(reason) => {
                self.dead_letter(None, waba, "unreadable change", &reason, whole).await?;
                return Ok(None);
            }
        };
        let phone_number_id = metadata(&value).phone_number_id.clone();
        let Some(number) = self.number(&phone_number_id).await? else {
            let detail = format!("phone_number_id {phone_number_id:?}");
            self.dead_letter(None, waba, "unknown business number", &detail, whole).await?;
            return Ok(None);
        };
        Ok(Some((value, number)))
    }

    /// Keeps what could not be applied. It belongs to the number's workspace or, failing that,
    /// to the workspace owning the entry's WABA when exactly one does; otherwise only the
    /// operator sees it (logs, `/metrics`). Every `wamid` in it (payload and reason) is
    /// replaced by its digest: it may be a hidden customer's, which can encode the phone. The
    /// log names the `kind` only, never a payload value.
    async fn dead_letter(
        &mut self,
        workspace: Option<WorkspaceId>,
        waba_id: Option<&str>,
        kind: &'static str,
        detail: &str,
        payload: &Value,
    ) -> Result<(), persistence::Error> {
        let workspace = match (workspace, waba_id) {
            (Some(ws), _) => Some(ws),
            (None, Some(waba)) => business_numbers::owner_of_waba(self.db, waba).await?,
            (None, None) => None,
        };
        tracing::warn!(kind, attributed = workspace.is_some(), "webhook change kept as a dead letter");
        metrics::counter!("parley_dead_letters_total", "kind" => kind).increment(1);
        let reason =
            if detail.is_empty() { kind.to_owned() } else { scrub_wamids(&format!("{kind}: {detail}")) };
        let mut payload = payload.clone();
        digest_wamids(&mut payload);
        dead_letters::create(self.db, workspace, &reason, &payload.to_string(), self.now).await?;
        self.summary.dead_letters += 1;
        Ok(())
    }
}

pub(super) async fn apply(
    db: &impl Announce,
    webhook: &Webhook,
    now: DateTime<Utc>,
    keyring: &Keyring,
) -> Result<WebhookSummary, persistence::Error> {
    let mut router = Router { db, now, keyring, numbers: HashMap::new(), summary: WebhookSummary::default() };
    for entry in &webhook.entry {
        let waba = entry.id.as_deref();
        for change in &entry.changes {
            let whole = json!({ "entry": entry.id, "field": change.field, "value": change.value });
            match change.field.as_str() {
                "messages" => messages_change(&mut router, waba, change, &whole).await?,
                "user_id_update" => user_id_update(&mut router, waba, change, &whole).await?,
                "business_username_update" | "business_username_updates" => {
                    business_username_update(&mut router, waba, change, &whole).await?;
                }
                other => {
                    let detail = format!("{other:?}");
                    router.dead_letter(None, waba, "unsupported webhook field", &detail, &whole).await?;
                }
            }
        }
    }
    Ok(router.summary)
}

async fn messages_change<C: Announce>(
    router: &mut Router<'_, C>,
    waba: Option<&str>,
    change: &Change,
    whole: &Value,
) -> Result<(), persistence::Error> {
    let Some((value, number)) = router.route(waba, change, whole, |v: &MessagesValue| &v.metadata).await?
    else {
        return Ok(());
    };
    let workspace = number.workspace_id;
    for raw in &value.messages {
        match read_message(raw, &value.contacts) {
            Ok(message) => {
                match ingest::record_inbound(router.db, &number, &message, router.now, router.keyring).await?
                {
                    IngestOutcome::Stored { .. } => router.summary.messages += 1,
                    IngestOutcome::Duplicate => router.summary.duplicates += 1,
                    IngestOutcome::Reacted { .. } => router.summary.reactions += 1,
                    IngestOutcome::Unmatched => router.summary.ignored += 1,
                }
            }
            Err(err) => {
                let (kind, detail) = match err {
                    InboundError::Group => ("group messages are not supported", String::new()),
                    other => ("unreadable message", other.to_string()),
                };
                let item =
                    json!({ "field": "messages", "metadata": change.value.get("metadata"), "message": raw });
                router.dead_letter(Some(workspace), waba, kind, &detail, &item).await?;
            }
        }
    }
    for raw in &value.statuses {
        match read_status(raw) {
            Ok(status) => apply_status(router, &number, &status).await?,
            Err(reason) => {
                let item =
                    json!({ "field": "statuses", "metadata": change.value.get("metadata"), "status": raw });
                router.dead_letter(Some(workspace), waba, "unreadable status", &reason, &item).await?;
            }
        }
    }
    Ok(())
}

/// Moves an outbound message forward (never backwards: a late `delivered` leaves `read`).
async fn apply_status<C: Announce>(
    router: &mut Router<'_, C>,
    number: &business_number::Model,
    status: &StatusUpdate,
) -> Result<(), persistence::Error> {
    let Some(next) = status.status else {
        router.summary.ignored += 1;
        return Ok(());
    };
    let ids = [status.wamid.clone(), external_id_digest(&status.wamid)];
    let Some(message) = messages::find_by_any_external_id(router.db, number.id, &ids).await? else {
        tracing::debug!("status for a message Parley did not send; ignored");
        router.summary.ignored += 1;
        return Ok(());
    };
    let current = message.status;
    if !current.advances_to(next) {
        router.summary.ignored += 1;
        return Ok(());
    }
    let workspace = message.workspace_id;
    let saved = messages::set_status(router.db, message, next, status.error.clone(), router.now).await?;
    let conversation = conversations::find(router.db, workspace, saved.conversation_id)
        .await?
        .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
    record_aliases(router, &conversation, status).await?;
    crate::events::emit(
        router.db,
        crate::events::Event::MessageStatusUpdated {
            message: &saved,
            conversation: &conversation,
            previous: current,
        },
        router.now,
    )
    .await?;
    router.summary.statuses += 1;
    Ok(())
}

/// A status may tell us the BSUID (or parent BSUID) of a conversation that lacked it: record
/// it as an alias. Statuses never create identities or overwrite known ones.
async fn record_aliases<C: Announce>(
    router: &mut Router<'_, C>,
    conversation: &persistence::entities::conversation::Model,
    status: &StatusUpdate,
) -> Result<(), persistence::Error> {
    let bsuid = status.recipient_bsuid.clone();
    let parent = status.recipient_parent_bsuid.clone();
    let add_bsuid = conversation.customer_bsuid.is_none() && bsuid.is_some();
    let add_parent = conversation.customer_parent_bsuid.is_none() && parent.is_some();
    if !add_bsuid && !add_parent {
        return Ok(());
    }
    let update = ConversationChange {
        customer_bsuid: bsuid.filter(|_| add_bsuid),
        customer_parent_bsuid: parent.filter(|_| add_parent),
        ..ConversationChange::default()
    };
    conversations::update(router.db, conversation.clone(), update, router.now).await?;
    Ok(())
}

async fn user_id_update<C: Announce>(
    router: &mut Router<'_, C>,
    waba: Option<&str>,
    change: &Change,
    whole: &Value,
) -> Result<(), persistence::Error> {
    let Some((value, number)) =
        router.route(waba, change, whole, |v: &UserIdUpdateValue| &v.metadata).await?
    else {
        return Ok(());
    };
    let workspace = number.workspace_id;
    for update in &value.user_id_update {
        let identity_change = match read_identity_change(update) {
            Ok(change) => change,
            Err(reason) => {
                let item = json!({ "field": "user_id_update", "metadata": change.value.get("metadata"), "update": update.user_id.previous });
                router
                    .dead_letter(Some(workspace), waba, "unreadable identity update", reason, &item)
                    .await?;
                continue;
            }
        };
        router.summary.identity_changes +=
            ingest::apply_identity_change(router.db, workspace, None, &identity_change, router.now).await?;
    }
    Ok(())
}

async fn business_username_update<C: Announce>(
    router: &mut Router<'_, C>,
    waba: Option<&str>,
    change: &Change,
    whole: &Value,
) -> Result<(), persistence::Error> {
    let value: BusinessUsernameUpdate = match read_value(&change.field, &change.value) {
        Ok(v) => v,
        Err(reason) => return router.dead_letter(None, waba, "unreadable change", &reason, whole).await,
    };
    let display = username_update_number(&value);
    let number = match (waba, &display) {
        (Some(waba), Some(display)) => {
            business_numbers::find_by_waba_and_display(router.db, waba, display).await?
        }
        _ => None,
    };
    let Some(number) = number else {
        return router
            .dead_letter(None, waba, "username update for an unknown business number", "", whole)
            .await;
    };
    let workspace = number.workspace_id;
    let (username, status) = match read_username_update(&value) {
        Ok(read) => read,
        Err(reason) => {
            return router
                .dead_letter(Some(workspace), waba, "unreadable username update", &reason, whole)
                .await;
        }
    };
    // A replay (the same body, whenever it comes back) changes nothing: an old update must not
    // undo a newer one.
    let digest = receipts::digest(whole);
    if !receipts::first_time(router.db, number.id, "business_username_update", &digest, router.now).await? {
        router.summary.ignored += 1;
        return Ok(());
    }
    let unchanged = number.username == username && number.username_status == status;
    if unchanged {
        router.summary.ignored += 1;
        return Ok(());
    }
    if let Some(username) = &username {
        // WhatsApp says this number holds it now: whichever number Parley thought held it loses it.
        for holder in business_numbers::holding_username(router.db, &username.key()).await? {
            if holder.id != number.id {
                let released =
                    business_numbers::set_username(router.db, holder, None, None, router.now).await?;
                crate::events::emit(
                    router.db,
                    crate::events::Event::BusinessUsernameUpdated(&released),
                    router.now,
                )
                .await?;
            }
        }
    }
    let saved =
        business_numbers::set_username(router.db, number, username.as_ref(), status, router.now).await?;
    crate::events::emit(router.db, crate::events::Event::BusinessUsernameUpdated(&saved), router.now).await?;
    router.summary.usernames += 1;
    Ok(())
}

/// The workspace's dead-lettered webhook changes, newest first (admins).
///
/// # Errors
/// `FORBIDDEN` for non-admins, storage failures.
pub async fn dead_letters(
    db: &Database,
    viewer: &crate::auth::Viewer,
    limit: u64,
) -> crate::error::ApiResult<Vec<persistence::entities::dead_letter::Model>> {
    viewer.require_admin()?;
    Ok(dead_letters::list(db.conn(), viewer.workspace_id, limit).await?)
}
