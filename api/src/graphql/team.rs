//! The team's tools: notes, labels, teams and canned responses.

use async_graphql::{Context, ID, InputObject, Object, Result};
use domain::{AgentId, CannedResponseId, ConversationId, LabelId, Permission, TeamId};

use super::context::{db, now, parse_id, viewer};
use super::conversations::{Conversation, Label, Message, Team};
use super::guards::RoleGuard;
use crate::workflow::{notes, team};

/// A saved answer agents insert by its short code.
pub struct CannedResponse(pub persistence::CannedResponse);

/// A saved answer agents insert by its short code (unique per workspace, ignoring case).
#[Object]
impl CannedResponse {
    /// Opaque id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// What an agent types to find it (letters, digits, `-`, `_`).
    async fn short_code(&self) -> &str {
        &self.0.short_code
    }

    /// The answer.
    async fn text(&self) -> &str {
        &self.0.text
    }
}

/// A new label.
#[derive(InputObject)]
pub struct CreateLabelInput {
    /// Name, unique in the workspace ignoring case.
    pub name: String,
    /// Colour, `#rrggbb`.
    pub color: String,
}

/// A new team.
#[derive(InputObject)]
pub struct CreateTeamInput {
    /// Name, unique in the workspace ignoring case.
    pub name: String,
}

/// A new canned response.
#[derive(InputObject)]
pub struct CreateCannedResponseInput {
    /// 1 to 64 letters, digits, `-` or `_`; unique in the workspace ignoring case.
    pub short_code: String,
    /// The answer (1 to 4096 characters).
    pub text: String,
}

/// Labels, teams and canned responses of the workspace.
#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// The workspace's labels, by name.
    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        Ok(team::list_labels(db(ctx)?, viewer(ctx)?).await?.into_iter().map(Label).collect())
    }

    /// The workspace's teams, by name.
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        Ok(team::list_teams(db(ctx)?, viewer(ctx)?).await?.into_iter().map(Team).collect())
    }

    /// The workspace's canned responses by short code (at most 500); with `search`, those whose
    /// short code starts with it or whose text contains it, ignoring case.
    async fn canned_responses(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
    ) -> Result<Vec<CannedResponse>> {
        let rows = team::list_canned_responses(db(ctx)?, viewer(ctx)?, search.as_deref()).await?;
        Ok(rows.into_iter().map(CannedResponse).collect())
    }
}

/// Notes, labels, teams and canned responses.
#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Adds a note for colleagues (`direction: INTERNAL`, `kind: "note"`): never sent, no
    /// effect on the service window, the inbox order or unread counts. Event `note.added`.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn add_note(&self, ctx: &Context<'_>, conversation_id: ID, text: String) -> Result<Message> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        Ok(Message(notes::add(db(ctx)?, viewer(ctx)?, id, &text, now(ctx)).await?))
    }

    /// Creates a label (ADMIN). `CONFLICT` for a name the workspace has (ignoring case).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_label(&self, ctx: &Context<'_>, input: CreateLabelInput) -> Result<Label> {
        Ok(Label(team::create_label(db(ctx)?, viewer(ctx)?, &input.name, &input.color, now(ctx)).await?))
    }

    /// Puts a label on a conversation (nothing changes if it carries it already).
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn add_label(&self, ctx: &Context<'_>, conversation_id: ID, label_id: ID) -> Result<Conversation> {
        set_label(ctx, &conversation_id, &label_id, true).await
    }

    /// Takes a label off a conversation (nothing changes if it does not carry it).
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn remove_label(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        label_id: ID,
    ) -> Result<Conversation> {
        set_label(ctx, &conversation_id, &label_id, false).await
    }

    /// Creates a team (ADMIN). `CONFLICT` for a name the workspace has (ignoring case).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> Result<Team> {
        Ok(Team(team::create_team(db(ctx)?, viewer(ctx)?, &input.name, now(ctx)).await?))
    }

    /// Adds an agent of the workspace to a team (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn add_team_member(&self, ctx: &Context<'_>, team_id: ID, agent_id: ID) -> Result<Team> {
        set_member(ctx, &team_id, &agent_id, true).await
    }

    /// Removes an agent from a team (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn remove_team_member(&self, ctx: &Context<'_>, team_id: ID, agent_id: ID) -> Result<Team> {
        set_member(ctx, &team_id, &agent_id, false).await
    }

    /// Saves an answer under a short code (ADMIN). `CONFLICT` for a short code the workspace
    /// has (ignoring case).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn create_canned_response(
        &self,
        ctx: &Context<'_>,
        input: CreateCannedResponseInput,
    ) -> Result<CannedResponse> {
        let saved =
            team::create_canned_response(db(ctx)?, viewer(ctx)?, &input.short_code, &input.text, now(ctx))
                .await?;
        Ok(CannedResponse(saved))
    }

    /// Deletes a canned response (ADMIN); true when done.
    #[graphql(guard = "RoleGuard::admin()")]
    async fn delete_canned_response(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let id = parse_id::<CannedResponseId>(&id, "id")?;
        team::delete_canned_response(db(ctx)?, viewer(ctx)?, id, now(ctx)).await?;
        Ok(true)
    }
}

async fn set_label(
    ctx: &Context<'_>,
    conversation_id: &ID,
    label_id: &ID,
    add: bool,
) -> Result<Conversation> {
    let id = parse_id::<ConversationId>(conversation_id, "conversationId")?;
    let label = parse_id::<LabelId>(label_id, "labelId")?;
    Ok(Conversation(team::set_label(db(ctx)?, viewer(ctx)?, id, label, add, now(ctx)).await?))
}

async fn set_member(ctx: &Context<'_>, team_id: &ID, agent_id: &ID, add: bool) -> Result<Team> {
    let team_id = parse_id::<TeamId>(team_id, "teamId")?;
    let agent = parse_id::<AgentId>(agent_id, "agentId")?;
    Ok(Team(team::set_member(db(ctx)?, viewer(ctx)?, team_id, agent, add, now(ctx)).await?))
}
