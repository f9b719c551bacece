//! One Meta webhook, applied in one transaction (PRODUCT.md section 7).
//!
//! Every `entry[].changes[]` is routed by its business number. Messages go through
//! threading ([`super::messages`]); statuses move outbound messages forward only; BSUID rotations
//! re-key conversations; business username updates keep the number's username in step. A
//! change Parley cannot route or read is kept whole as a dead letter (Meta is answered 200,
//! so it does not retry for a week), and the rest of the webhook is still applied.

use chrono::{DateTime, Utc};
use domain::business_username::{Claim, Holder, transfer};
use domain::statuses::TemplateUpdate;
use domain::{ThreadKeyKind, WorkspaceId};
use persistence::BusinessNumber;
use persistence::conversations::ConversationChange;
use persistence::messages::{StatusChange, scrub_wamids};
use persistence::sealed::Keyring;
use persistence::{
    Announce, Database, business_numbers, conversations, dead_letters, messages, receipts, templates,
};

use crate::inbound::group::{Group, Hints};

use super::read::{ChangeBody, Item, Kept, ReadChange, StatusUpdate, UsernameUpdate};
use super::thread::{self as ingest, IngestOutcome};

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
    /// Templates whose review changed (status, quality, category).
    pub templates: usize,
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
    /// The look-ups and held writes of the group commit this webhook is part of.
    group: &'a mut Group,
    summary: WebhookSummary,
}

impl<C: Announce> Router<'_, C> {
    async fn number(&mut self, phone_number_id: &str) -> Result<Option<BusinessNumber>, persistence::Error> {
        self.group.number(self.db, phone_number_id).await
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
        kept: &Kept<'_>,
    ) -> Result<(), persistence::Error> {
        self.group.settle(self.db).await?;
        let workspace = match (workspace, waba_id) {
            (Some(ws), _) => Some(ws),
            (None, Some(waba)) => business_numbers::owner_of_waba(self.db, waba).await?,
            (None, None) => None,
        };
        tracing::warn!(kind, attributed = workspace.is_some(), "webhook change kept as a dead letter");
        metrics::counter!("parley_dead_letters_total", "kind" => kind).increment(1);
        let reason =
            if detail.is_empty() { kind.to_owned() } else { scrub_wamids(&format!("{kind}: {detail}")) };
        dead_letters::create(self.db, workspace, &reason, &kept.payload(), self.now).await?;
        self.summary.dead_letters += 1;
        Ok(())
    }
}

/// Names what applying `changes` will look up: each inbound message's number, provider id
/// and sender's thread keys.
pub(crate) fn hint(changes: &[ReadChange<'_>], hints: &mut Hints) {
    for change in changes {
        let ChangeBody::ForNumber { phone_number_id, items } = &change.body else { continue };
        for item in items {
            let Item::Message(message) = item else { continue };
            if message.reaction.is_some() {
                continue;
            }
            let identity = &message.identity;
            let keys = [
                identity.phone().map(|p| (ThreadKeyKind::Phone, p.as_str().to_owned())),
                identity.bsuid().map(|b| (ThreadKeyKind::Bsuid, b.as_str().to_owned())),
            ];
            hints.message(phone_number_id, &message.wamid, keys.into_iter().flatten());
        }
    }
}

/// Applies what [`super::read::read_webhook`] read, in the caller's transaction, through
/// `group` (whose held writes the caller flushes before committing).
pub(crate) async fn apply(
    db: &impl Announce,
    changes: &[ReadChange<'_>],
    now: DateTime<Utc>,
    keyring: &Keyring,
    group: &mut Group,
) -> Result<WebhookSummary, persistence::Error> {
    let mut router = Router { db, now, keyring, group, summary: WebhookSummary::default() };
    for change in changes {
        let waba = change.waba;
        match &change.body {
            ChangeBody::ForNumber { phone_number_id, items } => {
                let Some(number) = router.number(phone_number_id).await? else {
                    let detail = format!("phone_number_id {phone_number_id:?}");
                    router.dead_letter(None, waba, "unknown business number", &detail, &change.kept).await?;
                    continue;
                };
                for item in items {
                    apply_item(&mut router, &number, waba, item).await?;
                }
            }
            ChangeBody::Username(update) => {
                router.group.settle(db).await?;
                username_update(&mut router, change, update).await?;
            }
            ChangeBody::Template(update) => {
                router.group.settle(db).await?;
                template_update(&mut router, change, update).await?;
            }
            ChangeBody::Unreadable { kind, detail } => {
                router.dead_letter(None, waba, kind, detail, &change.kept).await?;
            }
        }
    }
    Ok(router.summary)
}

async fn apply_item<C: Announce>(
    router: &mut Router<'_, C>,
    number: &BusinessNumber,
    waba: Option<&str>,
    item: &Item<'_>,
) -> Result<(), persistence::Error> {
    match item {
        Item::Message(message) => {
            let (db, now, keyring) = (router.db, router.now, router.keyring);
            match ingest::record_in_group(db, number, message, now, keyring, router.group).await? {
                IngestOutcome::Stored { .. } => router.summary.messages += 1,
                IngestOutcome::Duplicate => router.summary.duplicates += 1,
                IngestOutcome::Reacted { .. } => router.summary.reactions += 1,
                IngestOutcome::Unmatched => router.summary.ignored += 1,
            }
        }
        Item::Status(status) => {
            router.group.settle(router.db).await?;
            apply_status(router, number, status).await?;
        }
        Item::IdentityChange(change) => {
            router.group.settle(router.db).await?;
            router.summary.identity_changes +=
                ingest::apply_identity_change(router.db, number.workspace_id, None, change, router.now)
                    .await?;
        }
        Item::Unreadable { kind, detail, kept } => {
            router.dead_letter(Some(number.workspace_id), waba, kind, detail, kept).await?;
        }
    }
    Ok(())
}

/// Moves an outbound message forward (never backwards: a late `delivered` leaves `read`).
async fn apply_status<C: Announce>(
    router: &mut Router<'_, C>,
    number: &BusinessNumber,
    status: &StatusUpdate,
) -> Result<(), persistence::Error> {
    let Some(next) = status.status else {
        router.summary.ignored += 1;
        return Ok(());
    };
    let ids = crate::inbound::group::ids_of(&status.wamid);
    let Some(message) = messages::find_by_any_external_id(router.db, number.id, &ids).await? else {
        tracing::debug!("status for a message Parley did not send; ignored");
        router.summary.ignored += 1;
        return Ok(());
    };
    if !message.status.advances_to(next) {
        router.summary.ignored += 1;
        return Ok(());
    }
    let conversation = conversations::find(router.db, message.workspace_id, message.conversation_id)
        .await?
        .ok_or(persistence::Error::MissingReference { what: "conversation" })?;
    let change = StatusChange { to: next, error: status.error.clone(), accepted_as: None };
    let advanced =
        crate::workflow::status::advance(router.db, &message, change, Some(&conversation), router.now)
            .await?;
    if advanced.is_none() {
        router.summary.ignored += 1;
        return Ok(());
    }
    record_aliases(router, conversation, status).await?;
    router.summary.statuses += 1;
    Ok(())
}

/// A status may tell us the BSUID (or parent BSUID) of a conversation that lacked it: record
/// it as an alias. Statuses never create identities or overwrite known ones.
async fn record_aliases<C: Announce>(
    router: &mut Router<'_, C>,
    conversation: persistence::Conversation,
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
    conversations::update(router.db, conversation, update, router.now).await?;
    Ok(())
}

/// WhatsApp says which username a number of the WABA holds now.
async fn username_update<C: Announce>(
    router: &mut Router<'_, C>,
    change: &ReadChange<'_>,
    update: &UsernameUpdate,
) -> Result<(), persistence::Error> {
    let waba = change.waba;
    let number = match (waba, &update.display) {
        (Some(waba), Some(display)) => {
            business_numbers::find_by_waba_and_display(router.db, waba, display).await?
        }
        _ => None,
    };
    let Some(number) = number else {
        let kind = "username update for an unknown business number";
        return router.dead_letter(None, waba, kind, "", &change.kept).await;
    };
    let workspace = number.workspace_id;
    let (username, status) = match &update.state {
        Ok(state) => state.clone(),
        Err(reason) => {
            let kind = "unreadable username update";
            return router.dead_letter(Some(workspace), waba, kind, reason, &change.kept).await;
        }
    };
    // A replay (the same body, whenever it comes back) changes nothing: an old update must not
    // undo a newer one.
    let kind = "business_username_update";
    if !receipts::first_time(router.db, number.id, kind, &update.receipt, router.now).await? {
        router.summary.ignored += 1;
        return Ok(());
    }
    if number.username == username && number.username_status == status {
        router.summary.ignored += 1;
        return Ok(());
    }
    if let Some(username) = &username {
        let holders = business_numbers::holding_username(router.db, &username.key()).await?;
        let seen: Vec<Holder<'_>> = holders.iter().map(business_numbers::holder).collect();
        let released =
            transfer(&business_numbers::holder(&number), &seen, Claim::Reported).unwrap_or_default();
        for holder in holders.into_iter().filter(|h| released.contains(&h.id)) {
            let released = business_numbers::set_username(router.db, holder, None, None, router.now).await?;
            crate::events::emit(
                router.db,
                crate::events::Event::BusinessUsernameUpdated(&released),
                router.now,
            )
            .await?;
        }
    }
    let saved =
        business_numbers::set_username(router.db, number, username.as_ref(), status, router.now).await?;
    crate::events::emit(router.db, crate::events::Event::BusinessUsernameUpdated(&saved), router.now).await?;
    router.summary.usernames += 1;
    Ok(())
}

/// Meta's review of a WABA template changed: the templates it names (by Meta's id, else name
/// and language) take it; each that changed writes `template.updated`. A template Parley does
/// not hold is kept as a dead letter (of the WABA's workspace).
async fn template_update<C: Announce>(
    router: &mut Router<'_, C>,
    change: &ReadChange<'_>,
    update: &TemplateUpdate,
) -> Result<(), persistence::Error> {
    let waba = change.waba;
    let name_language = update.name.as_deref().zip(update.language.as_deref());
    let found = match waba {
        Some(waba) => {
            templates::named_in_waba(router.db, waba, update.meta_id.as_deref(), name_language).await?
        }
        None => Vec::new(),
    };
    if found.is_empty() {
        return router.dead_letter(None, waba, "update for an unknown template", "", &change.kept).await;
    }
    for template in found {
        let previous = template.status;
        let review = templates::Review {
            status: update.status,
            quality: update.quality,
            category: update.category,
            rejected_reason: update.reason.clone(),
            meta_id: update.meta_id.clone(),
            body: None,
        };
        let (saved, moved) = templates::review(router.db, template, review, router.now).await?;
        if moved {
            let event = crate::events::Event::TemplateUpdated { template: &saved, previous };
            crate::events::emit(router.db, event, router.now).await?;
            router.summary.templates += 1;
        } else {
            router.summary.ignored += 1;
        }
    }
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
) -> crate::error::ApiResult<Vec<persistence::DeadLetter>> {
    viewer.require_admin()?;
    Ok(dead_letters::list(db.conn(), viewer.workspace_id, limit).await?)
}
