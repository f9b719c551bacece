//! Privacy requests (PRODUCT.md section 13), for admins: exporting everything Parley stores
//! about a conversation's customer across the workspace, and erasing it.
//!
//! The customer is every conversation of the workspace sharing a phone or a BSUID with the one
//! named, followed transitively ([`persistence::privacy::customer_of`]). Erasure keeps ids and
//! types (so reports and CRM references still add up) and removes what was said and who said
//! it: message texts and content, reactions, attachment metadata and bytes, the customer's
//! identifiers on conversations, contact identities and dead letters, and event data beyond
//! ids; with `includeContact`, the linked contacts too. The customer's next message opens a
//! fresh `FIRST_CONTACT` thread. SMS opt-outs are kept: a suppression list is a legal
//! obligation that outlives an erasure request.

use std::collections::BTreeSet;

use crate::events::Event;
use chrono::{DateTime, Utc};
use domain::{ContactId, ConversationId};
use persistence::{Database, contacts, privacy};
use serde_json::{Value, json};

use crate::auth::Viewer;
use crate::contacts::records;
use crate::error::{ApiError, ApiResult};
use crate::store::audit;
use crate::workflow::conversations::{get, get_for_update};

/// Everything stored about the customer of a conversation, as one JSON document (admins;
/// audited as `customer.exported`).
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND` for a conversation of another workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn export(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    now: DateTime<Utc>,
) -> ApiResult<Value> {
    viewer.require_admin()?;
    let ws = viewer.workspace_id;
    let conn = db.conn();
    let seed = get(conn, viewer, id).await?;
    let (customer, conversations) = privacy::customer_of(conn, &seed).await?;
    let ids: Vec<ConversationId> = conversations.iter().map(|c| c.id).collect();
    let contact_ids: Vec<ContactId> =
        conversations.iter().filter_map(|c| c.contact_id).collect::<BTreeSet<_>>().into_iter().collect();
    let messages = privacy::messages_of(conn, ws, &ids).await?;
    let attachments = privacy::attachments_of(conn, ws, &ids).await?;
    let reactions = privacy::reactions_of(conn, ws, &ids).await?;
    let found_contacts = contacts::find_by_ids(conn, ws, &contact_ids).await?;
    let identities = contacts::identities_of(conn, ws, &contact_ids).await?;
    // The events of contacts merged into the customer's described the same person.
    let mut event_contacts = contact_ids.clone();
    event_contacts.extend(privacy::merged_into(conn, ws, &contact_ids).await?);
    let stored_events = privacy::events_of(conn, ws, &ids, &event_contacts).await?;

    let message_json = |m: &persistence::Message| {
        json!({
            "id": m.id, "direction": m.direction, "channel": m.channel, "kind": m.kind, "text": m.text,
            "content": m.content, "status": m.status, "externalId": m.external_id,
            "templateName": m.template_name, "authorId": m.author_agent_id,
            "replyToMessageId": m.reply_to_message_id, "errorCode": m.error_code, "errorTitle": m.error_title,
            "sentAt": m.sent_at, "createdAt": m.created_at,
            "attachments": attachments.iter().filter(|a| a.message_id == Some(m.id)).map(|a| json!({
                "id": a.id, "kind": a.kind, "mimeType": a.mime_type, "fileName": a.file_name, "caption": a.caption,
                "sizeBytes": a.size_bytes, "sha256": a.sha256, "status": a.status, "createdAt": a.created_at,
            })).collect::<Vec<_>>(),
            "reactions": reactions.iter().filter(|r| r.message_id == m.id && !r.emoji.is_empty()).map(|r| json!({
                "direction": r.direction, "emoji": r.emoji, "agentId": r.agent_id, "createdAt": r.created_at,
            })).collect::<Vec<_>>(),
        })
    };
    let document = json!({
        "exportedAt": now,
        "workspaceId": ws,
        "customer": {
            "phoneNumbers": customer.phones,
            "bsuids": customer.bsuids,
            "parentBsuids": customer.parent_bsuids,
            "usernames": customer.usernames,
            "profileNames": customer.profile_names,
        },
        "conversations": conversations.iter().map(|c| json!({
            "id": c.id, "businessNumberId": c.business_number_id, "channel": c.channel,
            "activeChannel": c.active_channel, "status": c.status, "origin": c.origin,
            "previousConversationId": c.previous_conversation_id, "contactId": c.contact_id,
            "assigneeId": c.assignee_id, "teamId": c.team_id,
            "customer": crate::events::data::customer(c),
            "smsOptedOut": c.sms_opted_out, "lastInboundAt": c.last_inbound_at, "createdAt": c.created_at,
            "messages": messages.iter().filter(|m| m.conversation_id == c.id).map(message_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "contacts": found_contacts.iter().map(|k| json!({
            "id": k.id, "name": k.name, "email": k.email, "phoneNumber": k.phone, "externalId": k.external_id,
            "attributes": k.attributes, "createdAt": k.created_at, "updatedAt": k.updated_at,
            "identities": identities.iter().filter(|i| i.contact_id == k.id).map(|i| json!({
                "kind": i.kind, "value": i.value, "sourceConversationId": i.source_conversation_id,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "events": stored_events.iter().map(|e| json!({
            "id": e.id, "cursor": e.cursor, "type": e.event_type, "occurredAt": e.occurred_at, "payload": e.payload,
        })).collect::<Vec<_>>(),
    });
    let details = json!({ "conversations": ids.len(), "messages": messages.len() });
    db.write(async |txn| {
        let entry = persistence::audit::Entry {
            agent: Some(viewer.agent_id),
            action: "customer.exported",
            subject_type: "conversation",
            subject_id: id.into(),
            details: Some(details),
        };
        persistence::audit::record(txn, ws, entry, now).await
    })
    .await?;
    Ok(document)
}

/// Erases the customer of a conversation across the workspace (admins); see the module
/// documentation for what goes and what stays. Writes `customer.erased` (ids only) and an
/// audit entry, in one transaction; the bytes that only the erased rows held are deleted after
/// its commit, from a durable list ([`persistence::blob_deletions`]).
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND` for a conversation of another workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn erase(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    include_contact: bool,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    viewer.require_admin()?;
    let ws = viewer.workspace_id;
    db.write(async |txn| {
        let seed = get_for_update(txn, viewer, id).await?;
        let (customer, found) = privacy::customer_of(txn, &seed).await?;
        let mut conversations = Vec::with_capacity(found.len());
        for c in found {
            conversations.push(get_for_update(txn, viewer, c.id).await?);
        }
        let ids: Vec<ConversationId> = conversations.iter().map(|c| c.id).collect();
        let contact_ids: Vec<ContactId> =
            conversations.iter().filter_map(|c| c.contact_id).collect::<BTreeSet<_>>().into_iter().collect();
        let mut deleted_contacts = Vec::new();
        if include_contact {
            for contact in contacts::find_by_ids(txn, ws, &contact_ids).await? {
                records::deleted(txn, viewer, &contact, now).await?;
                deleted_contacts.push(contact.id);
            }
        }
        // Bytes nothing else refers to are listed in this transaction and deleted after its
        // commit by the blob janitor (an upload sent to another customer keeps its bytes).
        let erased = privacy::erase(txn, ws, &customer, &conversations, &deleted_contacts, now).await?;
        let event = Event::CustomerErased { workspace: ws, conversations: &ids, contacts: &deleted_contacts };
        crate::events::emit(txn, event, now).await?;
        let details = json!({
            "conversations": ids.len(),
            "events": erased.events,
            "attachments": erased.attachments,
            "blobs": erased.blobs,
            "contactsDeleted": deleted_contacts.len(),
        });
        audit(txn, viewer, "customer.erased", ("conversation", id), details, now).await?;
        Ok::<_, ApiError>(())
    })
    .await?;
    // SQLite: the erased values must not linger in the write-ahead log (free pages are zeroed
    // by `secure_delete`).
    if let Err(err) = db.checkpoint().await {
        tracing::warn!(error = %err, "could not checkpoint the write-ahead log after an erasure");
    }
    Ok(())
}
