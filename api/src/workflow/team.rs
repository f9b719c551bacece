//! The team's tools: labels on conversations, teams of agents, canned responses. Creating
//! labels, teams and canned responses and managing membership is for admins; putting labels
//! on conversations is every agent's work. Every change is one transaction with its event
//! (label changes) or audit entry (admin changes).

use chrono::{DateTime, Utc};
use domain::{AgentId, CannedResponseId, ConversationId, LabelId, Permission, TeamId};
use persistence::Announce;
use persistence::{CannedResponse, Conversation, Label, Team};
use persistence::{Database, agents, canned_responses, labels, teams};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::input::{valid_name, valid_text};
use crate::store::audit;
use crate::workflow::conversations::get_for_update;

/// Creates a label (admins). `color` is `#rrggbb`.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for a bad name or colour, `CONFLICT` when the
/// workspace has a label of that name (ignoring case).
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create_label(
    db: &Database,
    viewer: &Viewer,
    name: &str,
    color: &str,
    now: DateTime<Utc>,
) -> ApiResult<Label> {
    viewer.require_admin()?;
    let name = valid_name("name", name)?;
    let color = valid_color(color)?;
    db.write(async |txn| {
        let new = labels::NewLabel { workspace_id: viewer.workspace_id, name: &name, color: &color };
        let saved = labels::create(txn, new, now).await?;
        audit(txn, viewer, "label.created", ("label", saved.id), serde_json::json!({ "name": name }), now)
            .await?;
        Ok(saved)
    })
    .await
}

/// `#rrggbb`, lower-cased.
fn valid_color(color: &str) -> ApiResult<String> {
    let color = color.trim();
    let hex = color.strip_prefix('#').unwrap_or_default();
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad_input("color must be #rrggbb (six hexadecimal digits)"));
    }
    Ok(color.to_ascii_lowercase())
}

/// The workspace's labels, by name.
///
/// # Errors
/// Storage failures.
pub async fn list_labels(db: &Database, viewer: &Viewer) -> ApiResult<Vec<Label>> {
    Ok(labels::list(db.conn(), viewer.workspace_id).await?)
}

/// Puts a label on a conversation (`add`) or takes it off; a change writes
/// `conversation.updated` with the conversation's labels. Nothing changes when the
/// conversation already was that way.
///
/// # Errors
/// `NOT_FOUND` for a conversation or label not of the workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, conversation_id = %id, label_id = %label))]
pub async fn set_label(
    db: &Database,
    viewer: &Viewer,
    id: ConversationId,
    label: LabelId,
    add: bool,
    now: DateTime<Utc>,
) -> ApiResult<Conversation> {
    viewer.require(Permission::WorkConversations)?;
    db.write(async |txn| {
        let current = get_for_update(txn, viewer, id).await?;
        labels::find(txn, viewer.workspace_id, label).await?.ok_or(ApiError::NotFound("label"))?;
        let changed = if add {
            labels::add_to(txn, viewer.workspace_id, id, label, now).await?
        } else {
            labels::remove_from(txn, viewer.workspace_id, id, label).await?
        };
        if changed {
            labels_changed(txn, &current, now).await?;
        }
        Ok(current)
    })
    .await
}

/// `conversation.updated` with the conversation's labels after a change.
async fn labels_changed(db: &impl Announce, c: &Conversation, now: DateTime<Utc>) -> ApiResult<()> {
    let carried = labels::of_conversations(db, c.workspace_id, &[c.id]).await?;
    let labels: Vec<domain::LabelId> = carried.iter().map(|(_, l)| l.id).collect();
    crate::events::emit(db, crate::events::Event::LabelsChanged { conversation: c, labels: &labels }, now)
        .await?;
    Ok(())
}

/// Creates a team (admins).
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for a bad name, `CONFLICT` when the workspace
/// has a team of that name (ignoring case).
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create_team(db: &Database, viewer: &Viewer, name: &str, now: DateTime<Utc>) -> ApiResult<Team> {
    viewer.require_admin()?;
    let name = valid_name("name", name)?;
    db.write(async |txn| {
        let saved = teams::create(txn, viewer.workspace_id, &name, now).await?;
        audit(txn, viewer, "team.created", ("team", saved.id), serde_json::json!({ "name": name }), now)
            .await?;
        Ok(saved)
    })
    .await
}

/// Adds an agent of the workspace to a team (`add`) or removes it (admins). Adding a member
/// twice or removing a non-member changes nothing.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND` for a team or agent not of the workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, team_id = %team, agent_id = %agent))]
pub async fn set_member(
    db: &Database,
    viewer: &Viewer,
    team: TeamId,
    agent: AgentId,
    add: bool,
    now: DateTime<Utc>,
) -> ApiResult<Team> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let found = teams::find(txn, viewer.workspace_id, team).await?.ok_or(ApiError::NotFound("team"))?;
        agents::find(txn, viewer.workspace_id, agent).await?.ok_or(ApiError::NotFound("agent"))?;
        let changed = if add {
            teams::add_member(txn, &found, agent, now).await?
        } else {
            teams::remove_member(txn, &found, agent).await?
        };
        if changed {
            let action = if add { "team.member_added" } else { "team.member_removed" };
            audit(txn, viewer, action, ("team", found.id), serde_json::json!({ "agentId": agent }), now)
                .await?;
        }
        Ok(found)
    })
    .await
}

/// The workspace's teams, by name.
///
/// # Errors
/// Storage failures.
pub async fn list_teams(db: &Database, viewer: &Viewer) -> ApiResult<Vec<Team>> {
    Ok(teams::list(db.conn(), viewer.workspace_id).await?)
}

/// The longest short code of a canned response.
const MAX_SHORT_CODE: usize = 64;

/// Creates a canned response (admins). A short code is 1–64 letters, digits, `-` or `_`.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for a bad short code or text, `CONFLICT` when
/// the workspace has that short code (ignoring case).
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn create_canned_response(
    db: &Database,
    viewer: &Viewer,
    short_code: &str,
    text: &str,
    now: DateTime<Utc>,
) -> ApiResult<CannedResponse> {
    viewer.require_admin()?;
    let short_code = short_code.trim();
    let valid = !short_code.is_empty()
        && short_code.chars().count() <= MAX_SHORT_CODE
        && short_code.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(ApiError::bad_input(format!(
            "shortCode must be 1 to {MAX_SHORT_CODE} letters, digits, '-' or '_'"
        )));
    }
    let text = valid_text("text", text)?;
    db.write(async |txn| {
        let new = canned_responses::NewCannedResponse {
            workspace_id: viewer.workspace_id,
            short_code,
            text: &text,
            created_by: viewer.agent_id,
        };
        let saved = canned_responses::create(txn, new, now).await?;
        let details = serde_json::json!({ "shortCode": short_code });
        audit(txn, viewer, "canned_response.created", ("canned_response", saved.id), details, now).await?;
        Ok(saved)
    })
    .await
}

/// Deletes a canned response (admins).
///
/// # Errors
/// `FORBIDDEN` for non-admins, `NOT_FOUND` when the workspace has no such canned response.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id, canned_response_id = %id))]
pub async fn delete_canned_response(
    db: &Database,
    viewer: &Viewer,
    id: CannedResponseId,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    viewer.require_admin()?;
    db.write(async |txn| {
        let deleted = canned_responses::delete(txn, viewer.workspace_id, id)
            .await?
            .ok_or(ApiError::NotFound("canned response"))?;
        let details = serde_json::json!({ "shortCode": deleted.short_code });
        audit(txn, viewer, "canned_response.deleted", ("canned_response", id), details, now).await?;
        Ok(())
    })
    .await
}

/// The workspace's canned responses, optionally matching a search (short-code prefix or text).
///
/// # Errors
/// `BAD_USER_INPUT` for a search longer than 200 characters; storage failures.
pub async fn list_canned_responses(
    db: &Database,
    viewer: &Viewer,
    search: Option<&str>,
) -> ApiResult<Vec<CannedResponse>> {
    let search = crate::input::search_text(search)?;
    Ok(canned_responses::list(db.conn(), viewer.workspace_id, search).await?)
}
