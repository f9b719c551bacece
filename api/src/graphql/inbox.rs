//! The inbox: the conversations query with its filter and order, one conversation by id, and
//! the mutations that change a conversation's state (assign, resolve, reopen).

use super::context::{db, now, parse_id, viewer};
use super::conversations::{Conversation, conversation_page};
use super::enums;
use super::guards::RoleGuard;
use super::setup::parse_agent_id;
use crate::error::ApiError;
use crate::workflow::conversations;
use async_graphql::connection::Connection;
use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result};
use domain::Permission;
use domain::{AgentId, ContactId, ConversationId, ConversationStatus, LabelId, TeamId};
use persistence::inbox::ConversationFilter as StoreFilter;

/// How the inbox may be filtered.
#[derive(InputObject, Default)]
pub struct ConversationFilter {
    /// `@username` (exact or prefix, `@` optional, case-insensitive), profile or contact name
    /// (case-insensitive substring), or phone digits.
    pub search: Option<String>,
    /// Only conversations with this status.
    pub status: Option<enums::ConversationStatus>,
    /// Only conversations assigned to the signed-in agent.
    pub assigned_to_me: Option<bool>,
    /// Only conversations linked to this contact.
    pub contact_id: Option<ID>,
    /// Only customers whose phone number is unknown (true) or known (false).
    pub username_only: Option<bool>,
    /// Only conversations assigned to this agent.
    pub assignee_id: Option<ID>,
    /// Only conversations assigned to no one (true) or to someone (false).
    pub unassigned: Option<bool>,
    /// Only conversations whose replies go through this channel now.
    pub channel: Option<enums::Channel>,
    /// Only conversations of this business number.
    pub business_number_id: Option<ID>,
    /// Only conversations with messages the signed-in agent has not read (true), or without
    /// (false).
    pub unread: Option<bool>,
    /// Only conversations carrying at least one of these labels (at most 20).
    pub label_ids: Option<Vec<ID>>,
    /// Only conversations routed to this team.
    pub team_id: Option<ID>,
    /// Only conversations waiting in a team's queue: open, in a team, assigned to no one
    /// (true), or only the others (false).
    pub waiting: Option<bool>,
    /// Only conversations with a breached SLA target in their current cycles (true), or without
    /// (false).
    pub sla_breached: Option<bool>,
}

/// The order of the inbox.
#[derive(async_graphql::Enum, Copy, Clone, Debug, Eq, PartialEq, Default)]
pub enum ConversationOrder {
    /// Newest activity first (the default).
    #[default]
    LastActivity,
    /// Nearest SLA due time first (`Conversation.sla`); conversations without a running SLA
    /// target last.
    SlaDue,
}

/// The most labels one filter names.
const MAX_FILTER_LABELS: usize = 20;

/// The `labelIds` of a filter (a list field: its length is bounded like any input).
fn label_ids(ids: Option<&[ID]>) -> Result<Vec<LabelId>, ApiError> {
    let ids = ids.unwrap_or_default();
    if ids.len() > MAX_FILTER_LABELS {
        return Err(ApiError::bad_input(format!("labelIds takes at most {MAX_FILTER_LABELS} labels")));
    }
    ids.iter().map(|id| parse_id::<LabelId>(id, "labelIds")).collect()
}

/// The inbox.
#[derive(Default)]
pub struct ConversationQuery;

#[Object]
impl ConversationQuery {
    /// The workspace's conversations, newest activity first (or by `orderBy`). A cursor
    /// belongs to the order it was read in.
    #[graphql(complexity = "super::pagination::page_cost(first, child_complexity)")]
    async fn conversations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<ConversationFilter>,
        order_by: Option<ConversationOrder>,
    ) -> Result<Connection<String, Conversation>> {
        let viewer = viewer(ctx)?;
        let filter = filter.unwrap_or_default();
        let assignee =
            filter.assignee_id.as_ref().map(|id| parse_id::<AgentId>(id, "assigneeId")).transpose()?;
        let mine = filter.assigned_to_me.unwrap_or(false).then_some(viewer.agent_id);
        if let (Some(given), Some(me)) = (assignee, mine)
            && given != me
        {
            return Err(ApiError::bad_input("assignedToMe and assigneeId name different agents").into());
        }
        let store_filter = StoreFilter {
            status: filter.status.map(Into::into),
            assignee: assignee.or(mine),
            unassigned: filter.unassigned,
            channel: filter.channel.map(Into::into),
            business_number: filter
                .business_number_id
                .as_ref()
                .map(|id| parse_id::<domain::BusinessNumberId>(id, "businessNumberId"))
                .transpose()?,
            unread: filter.unread.map(|unread| (viewer.agent_id, unread)),
            contact: filter
                .contact_id
                .as_ref()
                .map(|id| parse_id::<ContactId>(id, "contactId"))
                .transpose()?,
            username_only: filter.username_only,
            search: crate::input::valid_search(filter.search.as_deref())?,
            labels: label_ids(filter.label_ids.as_deref())?,
            team: filter.team_id.as_ref().map(|id| parse_id::<TeamId>(id, "teamId")).transpose()?,
            waiting: filter.waiting,
            sla_breached: filter.sla_breached,
            order: match order_by.unwrap_or_default() {
                ConversationOrder::LastActivity => persistence::inbox::InboxOrder::LastActivity,
                ConversationOrder::SlaDue => persistence::inbox::InboxOrder::SlaDue,
            },
        };
        conversation_page(ctx, &store_filter, first, after).await
    }

    /// One conversation of the workspace.
    async fn conversation(&self, ctx: &Context<'_>, id: ID) -> Result<Conversation> {
        let viewer = viewer(ctx)?;
        let id = parse_id::<ConversationId>(&id, "id")?;
        Ok(Conversation(crate::workflow::conversations::get(db(ctx)?.conn(), viewer, id).await?))
    }
}

/// Working the inbox.
#[derive(Default)]
pub struct ConversationMutation;

#[Object]
impl ConversationMutation {
    /// Assigns a conversation to an agent of the workspace (a null or absent `agentId`
    /// unassigns it) and, when `teamId` is given, routes it to that team (null: to no team;
    /// absent: the team stays). An agent given with a team must be its member.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn assign_conversation(
        &self,
        ctx: &Context<'_>,
        conversation_id: ID,
        agent_id: Option<ID>,
        team_id: MaybeUndefined<ID>,
    ) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let agent = parse_agent_id(agent_id.as_ref())?;
        let team = Option::<Option<ID>>::from(team_id)
            .map(|team| team.map(|id| parse_id::<TeamId>(&id, "teamId")).transpose())
            .transpose()?;
        let to = conversations::Assignment { agent, team };
        Ok(Conversation(conversations::assign(db(ctx)?, viewer(ctx)?, id, to, now(ctx)).await?))
    }

    /// Marks a conversation resolved. A new inbound message reopens it.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn resolve_conversation(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved = crate::workflow::conversations::set_status(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ConversationStatus::Resolved,
            now(ctx),
        )
        .await?;
        Ok(Conversation(saved))
    }

    /// Reopens a resolved conversation.
    #[graphql(guard = "RoleGuard::new(Permission::WorkConversations)")]
    async fn reopen_conversation(&self, ctx: &Context<'_>, conversation_id: ID) -> Result<Conversation> {
        let id = parse_id::<ConversationId>(&conversation_id, "conversationId")?;
        let saved = crate::workflow::conversations::set_status(
            db(ctx)?,
            viewer(ctx)?,
            id,
            ConversationStatus::Open,
            now(ctx),
        )
        .await?;
        Ok(Conversation(saved))
    }
}
