//! The inbox: reading conversations and their messages, their capabilities, and the state
//! changes agents make (assign, resolve, reopen). Each change writes its event in the same transaction.

use chrono::{DateTime, Utc};
use domain::capabilities::{self, Capabilities, ConversationFacts};
use domain::{AgentId, ConversationId, ConversationStatus, Permission, TeamId};
use persistence::Announce;
use persistence::conversations::ConversationChange;
use persistence::inbox::{ConversationFilter, InboxCursor};
use persistence::messages::MessageCursor;
use persistence::{ConnectionTrait, Database, agents, conversations, teams};
use persistence::{Conversation, Message};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// What a conversation's capabilities depend on beyond the conversation itself.
#[derive(Clone, Copy, Debug)]
pub struct Around {
    /// Its linked contact has a phone.
    pub contact_phone_known: bool,
    /// Its business number is connected.
    pub number_connected: bool,
}

/// The capability facts of a conversation.
#[must_use]
pub fn facts(c: &Conversation, around: Around) -> ConversationFacts {
    ConversationFacts {
        channel: c.active_channel,
        customer_phone_known: c.customer_phone.is_some(),
        contact_phone_known: around.contact_phone_known,
        last_inbound_at: c.last_inbound_at,
        sms_opted_out: c.sms_opted_out,
        number_connected: around.number_connected,
    }
}

/// The capabilities of a conversation at `now`.
#[must_use]
pub fn capabilities_of(c: &Conversation, around: Around, now: DateTime<Utc>) -> Capabilities {
    capabilities::capabilities(&facts(c, around), now)
}

/// What a conversation's capabilities depend on beyond itself, read from the database.
///
/// # Errors
/// On a database failure.
pub async fn around(db: &impl ConnectionTrait, c: &Conversation) -> Result<Around, persistence::Error> {
    let contact_phone_known = match c.contact_id {
        Some(contact) => {
            persistence::contacts::find(db, c.workspace_id, contact).await?.is_some_and(|k| k.phone.is_some())
        }
        None => false,
    };
    let number_connected = persistence::business_numbers::find(db, c.workspace_id, c.business_number_id)
        .await?
        .is_some_and(|n| n.connected);
    Ok(Around { contact_phone_known, number_connected })
}

/// A conversation's capabilities at `now`, with its contact and number as stored.
///
/// # Errors
/// On a database failure.
pub async fn capabilities_now(
    db: &impl ConnectionTrait,
    c: &Conversation,
    now: DateTime<Utc>,
) -> Result<Capabilities, persistence::Error> {
    Ok(capabilities_of(c, around(db, c).await?, now))
}

/// Writes `conversation.capabilities_changed` (with `cause`) when a capability's `allowed`
/// differs between `before` and `after`; returns whether it did.
///
/// # Errors
/// On a database failure.
pub async fn capabilities_changed(
    db: &impl Announce,
    conversation: &Conversation,
    cause: &'static str,
    before: &Capabilities,
    after: &Capabilities,
    now: DateTime<Utc>,
) -> Result<bool, persistence::Error> {
    if !before.flips(after) {
        return Ok(false);
    }
    let event = crate::events::Event::CapabilitiesChanged { conversation, cause, before, after };
    crate::events::emit(db, event, now).await?;
    Ok(true)
}

/// `conversation.capabilities_changed` (with `cause`) for each open or snoozed conversation
/// among `conversations` whose capabilities flip because its contact's phone went from known
/// (`had`) to unknown or back (`has`): a contact relinked by a merge, unlinked by a deletion,
/// or its phone edited.
///
/// # Errors
/// On a database failure.
pub async fn contact_phone_flips(
    db: &impl Announce,
    conversations: &[Conversation],
    had: bool,
    has: bool,
    cause: &'static str,
    now: DateTime<Utc>,
) -> Result<(), persistence::Error> {
    if had == has {
        return Ok(());
    }
    for c in conversations.iter().filter(|c| c.status != ConversationStatus::Resolved) {
        let number_connected = persistence::business_numbers::find(db, c.workspace_id, c.business_number_id)
            .await?
            .is_some_and(|n| n.connected);
        let before = capabilities_of(c, Around { contact_phone_known: had, number_connected }, now);
        let after = capabilities_of(c, Around { contact_phone_known: has, number_connected }, now);
        capabilities_changed(db, c, cause, &before, &after, now).await?;
    }
    Ok(())
}

/// A conversation of the viewer's workspace.
///
/// # Errors
/// `NOT_FOUND` when it does not exist in the workspace.
pub async fn get(db: &impl ConnectionTrait, viewer: &Viewer, id: ConversationId) -> ApiResult<Conversation> {
    conversations::find(db, viewer.workspace_id, id).await?.ok_or(ApiError::NotFound("conversation"))
}

/// A conversation of the viewer's workspace, locked for a change (see
/// [`conversations::find_for_update`]).
///
/// # Errors
/// `NOT_FOUND` when it does not exist in the workspace.
pub async fn get_for_update(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: ConversationId,
) -> ApiResult<Conversation> {
    conversations::find_for_update(db, viewer.workspace_id, id)
        .await?
        .ok_or(ApiError::NotFound("conversation"))
}

/// Writes `conversation.updated` for a changed conversation.
pub(crate) async fn updated_event(db: &impl Announce, c: &Conversation, now: DateTime<Utc>) -> ApiResult<()> {
    crate::events::emit(db, crate::events::Event::ConversationUpdated(c), now).await?;
    Ok(())
}

/// Who a conversation is assigned to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Assignment {
    /// The agent (`None`: no one).
    pub agent: Option<AgentId>,
    /// The team: `Some(None)` takes it off its team, `None` keeps the team it has.
    pub team: Option<Option<TeamId>>,
}

/// Assigns a conversation to an active agent of the workspace (or to no one) and, when a
/// team is given, to that team (an agent given with a team must be its member). Assigning
/// it as it is changes nothing and writes no event.
///
/// # Errors
/// `NOT_FOUND` for an unknown conversation, agent or team (also another workspace's),
/// `BAD_USER_INPUT` for an inactive agent or one not of the team.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id))]
pub async fn assign(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    to: Assignment,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::WorkConversations)?;
    db.write(async |txn| {
        let current = get_for_update(txn, viewer, id).await?;
        if let Some(agent) = to.agent {
            let found =
                agents::find(txn, viewer.workspace_id, agent).await?.ok_or(ApiError::NotFound("agent"))?;
            if !found.active {
                return Err(ApiError::bad_input("agentId names an inactive agent"));
            }
        }
        if let Some(Some(team)) = to.team {
            teams::find(txn, viewer.workspace_id, team).await?.ok_or(ApiError::NotFound("team"))?;
            if let Some(agent) = to.agent
                && !teams::is_member(txn, team, agent).await?
            {
                return Err(ApiError::bad_input("agentId names an agent who is not a member of teamId"));
            }
        }
        let team = to.team.unwrap_or(current.team_id);
        if current.assignee_id == to.agent && current.team_id == team {
            return Ok(current);
        }
        let change = ConversationChange {
            assignee: Some(to.agent),
            team: Some(team),
            ..ConversationChange::default()
        };
        let joined = current.team_id != team && team.is_some();
        let saved = conversations::update(txn, current, change, now).await?;
        let saved = if joined { super::sla::joined_team(txn, saved, now).await? } else { saved };
        updated_event(txn, &saved, now).await?;
        let event = crate::events::Event::ConversationAssigned {
            conversation: &saved,
            agent: to.agent,
            team,
            automatic: false,
        };
        crate::events::emit(txn, event, now).await?;
        let details = serde_json::json!({ "assigneeId": to.agent, "teamId": team });
        crate::store::audit(txn, viewer, "conversation.assigned", ("conversation", saved.id), details, now)
            .await?;
        Ok(saved)
    })
    .await
}

/// Sets the status (resolve or reopen). Setting the current status changes nothing and
/// writes no event.
///
/// # Errors
/// `NOT_FOUND` for an unknown conversation.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id, status = %status))]
pub async fn set_status(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    status: ConversationStatus,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::WorkConversations)?;
    db.write(async |txn| {
        let current = get_for_update(txn, viewer, id).await?;
        if current.status == status {
            return Ok(current);
        }
        let before = current.status;
        let change = ConversationChange { status: Some(status), ..ConversationChange::default() };
        let mut saved = conversations::update(txn, current, change, now).await?;
        super::sla::status_changed(txn, &saved, before, now).await?;
        super::facts::status_changed(txn, &mut saved, before, now).await?;
        updated_event(txn, &saved, now).await?;
        Ok(saved)
    })
    .await
}

/// One page of the viewer's inbox (or of a contact's history): `limit` rows after `after`.
///
/// # Errors
/// Storage failures.
pub async fn list(
    db: &Database,
    viewer: &Viewer,
    filter: &ConversationFilter,
    after: Option<InboxCursor>,
    limit: u64,
) -> ApiResult<Vec<Conversation>> {
    Ok(persistence::inbox::list(db.conn(), viewer.workspace_id, filter, after, limit).await?)
}

/// One page of a conversation's messages, newest first.
///
/// # Errors
/// Storage failures.
pub async fn messages(
    db: &Database,
    viewer: &Viewer,
    conversation: ConversationId,
    after: Option<MessageCursor>,
    limit: u64,
) -> ApiResult<Vec<Message>> {
    Ok(persistence::messages::list(db.conn(), viewer.workspace_id, conversation, after, limit).await?)
}
