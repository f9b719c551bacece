//! The inbox: one page of a workspace's conversations in the inbox order (newest activity
//! first), filtered (status, assignee, team, labels, channel, number, read state, username-only)
//! and searched (`@username` prefix, names, phone digits) on indexes.

use chrono::{DateTime, Utc};
use domain::search::SearchQuery;
use domain::{
    AgentId, BusinessNumberId, Channel, ContactId, ConversationId, ConversationStatus, LabelId, TeamId,
    WorkspaceId,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, Order, Query, SelectStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::dialect::Dialect;
use crate::entities::contact;
use crate::entities::conversation::{Column, Entity, Model};
use crate::error::{DbContext, Error};

/// What the inbox may be filtered by (all given conditions hold).
#[derive(Clone, Debug, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<AgentId>,
    /// `Some(true)`: only unassigned; `Some(false)`: only assigned.
    pub unassigned: Option<bool>,
    pub contact: Option<ContactId>,
    /// `Some(true)`: only customers whose phone is unknown; `Some(false)`: only with a phone.
    pub username_only: Option<bool>,
    pub search: Option<SearchQuery>,
    /// The channel replies go through now.
    pub channel: Option<Channel>,
    pub business_number: Option<BusinessNumberId>,
    /// `Some((agent, true))`: only conversations with inbound messages the agent has not read;
    /// `false`: only those without.
    pub unread: Option<(AgentId, bool)>,
    /// Only conversations carrying at least one of these labels (none: no condition).
    pub labels: Vec<LabelId>,
    pub team: Option<TeamId>,
    /// `Some(true)`: only conversations waiting in a team's queue (open, in a team,
    /// unassigned); `Some(false)`: only the others.
    pub waiting: Option<bool>,
    /// `Some(true)`: only conversations with a breached SLA target in their current cycles.
    pub sla_breached: Option<bool>,
    /// The order of the page.
    pub order: InboxOrder,
}

/// The order of an inbox page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InboxOrder {
    /// Newest activity first (the default).
    #[default]
    LastActivity,
    /// Nearest SLA due time first; conversations with no running SLA clock last.
    SlaDue,
}

/// The cursor key of a conversation without an SLA due time in the `SlaDue` order.
#[must_use]
pub fn no_due() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or_default()
}

/// Position in the inbox order: the last row of the previous page. `last_activity_at` is the
/// order's key: the activity time, or in the `SlaDue` order the due time ([`no_due`] for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InboxCursor {
    pub last_activity_at: DateTime<Utc>,
    pub id: ConversationId,
}

impl InboxCursor {
    #[must_use]
    pub fn of(model: &Model) -> Self {
        Self { last_activity_at: model.last_activity_at, id: model.id }
    }

    /// The cursor of `model` in `order`.
    #[must_use]
    pub fn in_order(model: &Model, order: InboxOrder) -> Self {
        match order {
            InboxOrder::LastActivity => Self::of(model),
            InboxOrder::SlaDue => {
                Self { last_activity_at: model.sla_due_at.unwrap_or_else(no_due), id: model.id }
            }
        }
    }
}

/// Escapes `%`, `_` and `\` so user text matches literally in `LIKE … ESCAPE '\'`.
#[must_use]
pub fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub(crate) fn like(pattern: String) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

/// One page of the workspace's conversations, newest activity first, after `after`.
/// Returns up to `limit` rows; ask for one more than the page size to learn if there is a next.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    filter: &ConversationFilter,
    after: Option<InboxCursor>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    let filters = filter_condition(workspace, filter);
    if filter.order == InboxOrder::SlaDue {
        let mut query = Entity::find().filter(filters);
        if let Some(search) = &filter.search {
            query = query.filter(search_condition(db, workspace, search, None));
        }
        return sla_due_page(db, query, after, limit).await;
    }
    let after = after.map(|cursor| {
        Condition::any().add(Column::LastActivityAt.lt(cursor.last_activity_at)).add(
            Condition::all()
                .add(Column::LastActivityAt.eq(cursor.last_activity_at))
                .add(Column::Id.lt(cursor.id)),
        )
    });
    let mut query = Entity::find().filter(filters.clone());
    if let Some(after) = &after {
        query = query.filter(after.clone());
    }
    if let Some(search) = &filter.search {
        let mut scope = Condition::all().add(Column::WorkspaceId.eq(workspace));
        if let Some(after) = after {
            scope = scope.add(after);
        }
        let page = Page { scope, filters, order: (Column::LastActivityAt, Column::Id), limit };
        query = query.filter(search_condition(db, workspace, search, Some(page)));
    }
    query
        .order_by_desc(Column::LastActivityAt)
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list conversations")
}

/// The filters of a page, the workspace first; not its search, cursor or order.
fn filter_condition(workspace: WorkspaceId, filter: &ConversationFilter) -> Condition {
    let mut all = Condition::all().add(Column::WorkspaceId.eq(workspace));
    if let Some(status) = filter.status {
        all = all.add(Column::Status.eq(status));
    }
    if let Some(assignee) = filter.assignee {
        all = all.add(Column::AssigneeId.eq(assignee));
    }
    match filter.unassigned {
        Some(true) => all = all.add(Column::AssigneeId.is_null()),
        Some(false) => all = all.add(Column::AssigneeId.is_not_null()),
        None => {}
    }
    if let Some(channel) = filter.channel {
        all = all.add(Column::ActiveChannel.eq(channel));
    }
    if let Some(number) = filter.business_number {
        all = all.add(Column::BusinessNumberId.eq(number));
    }
    if let Some((agent, unread)) = filter.unread {
        let condition = crate::reads::has_unread(agent);
        all = all.add(if unread { condition } else { condition.not() });
    }
    if let Some(contact) = filter.contact {
        all = all.add(Column::ContactId.eq(contact));
    }
    if let Some(team) = filter.team {
        all = all.add(Column::TeamId.eq(team));
    }
    if !filter.labels.is_empty() {
        all = all.add(crate::labels::carrying_any(&filter.labels));
    }
    match filter.username_only {
        Some(true) => all = all.add(Column::CustomerPhone.is_null()),
        Some(false) => all = all.add(Column::CustomerPhone.is_not_null()),
        None => {}
    }
    if let Some(waiting) = filter.waiting {
        let condition = Condition::all()
            .add(Column::Status.eq(ConversationStatus::Open))
            .add(Column::AssigneeId.is_null())
            .add(Column::TeamId.is_not_null());
        all = all.add(if waiting { condition } else { condition.not() });
    }
    if let Some(breached) = filter.sla_breached {
        all = all.add(Column::SlaBreached.eq(breached));
    }
    all
}

/// Conversations by id, of any workspace (the conversations a group commit's webhooks wrote
/// to, each checked against its own workspace's rules after).
///
/// # Errors
/// On a database failure.
pub async fn find_any_of(db: &impl ConnectionTrait, ids: &[ConversationId]) -> Result<Vec<Model>, Error> {
    crate::lookup::any_of::<Entity, _>(db, Column::Id, ids, "failed to load conversations").await
}

/// The page in the `SlaDue` order: nearest due time first, then by id; no due time last.
async fn sla_due_page(
    db: &impl ConnectionTrait,
    mut query: sea_orm::Select<Entity>,
    after: Option<InboxCursor>,
    limit: u64,
) -> Result<Vec<Model>, Error> {
    use sea_orm::sea_query::{NullOrdering, Order};
    if let Some(cursor) = after {
        query = query.filter(if cursor.last_activity_at == no_due() {
            Condition::all().add(Column::SlaDueAt.is_null()).add(Column::Id.gt(cursor.id))
        } else {
            Condition::any()
                .add(Column::SlaDueAt.gt(cursor.last_activity_at))
                .add(
                    Condition::all()
                        .add(Column::SlaDueAt.eq(cursor.last_activity_at))
                        .add(Column::Id.gt(cursor.id)),
                )
                .add(Column::SlaDueAt.is_null())
        });
    }
    query
        .order_by_with_nulls(Column::SlaDueAt, Order::Asc, NullOrdering::Last)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await
        .context("failed to list conversations by SLA due time")
}

/// The table that holds the searchable names and phones of conversations on PostgreSQL, with
/// their trigram indexes (kept from the conversations' own columns by a trigger; SQLite
/// searches those columns).
const SEARCH_TABLE: &str = "conversation_search";

/// One way a search matches a conversation: as a condition on its row, and as a query of the
/// ids it matches that its own index serves (see [`Dialect::any_of_paths`]).
pub(crate) type SearchPath = (Condition, SelectStatement);

/// The paths of a search: username prefix (B-tree with pattern ops), profile name and phone
/// substring (the search table's trigram indexes on PostgreSQL), contact name (through the
/// contacts table).
fn search_paths(workspace: WorkspaceId, search: &SearchQuery) -> Vec<SearchPath> {
    let own = |condition: Condition| {
        let ids = Query::select()
            .column(Column::Id)
            .from(Entity)
            .and_where(Expr::col(Column::WorkspaceId).eq(workspace))
            .cond_where(condition.clone())
            .to_owned();
        (condition, ids)
    };
    let text = |column: Column, searched: &str, pattern: String| {
        let ids = Query::select()
            .column(Alias::new("conversation_id"))
            .from(Alias::new(SEARCH_TABLE))
            .and_where(Expr::col(Alias::new("workspace_id")).eq(workspace))
            .and_where(Expr::col(Alias::new(searched)).like(like(pattern.clone())))
            .to_owned();
        (Condition::all().add(Expr::col(column).like(like(pattern))), ids)
    };
    let username = format!("{}%", like_escape(&search.username_prefix));
    let mut paths =
        vec![own(Condition::all().add(Expr::col(Column::CustomerUsernameKey).like(like(username))))];
    if let Some(name) = &search.name_contains {
        let pattern = format!("%{}%", like_escape(name));
        paths.push(text(Column::CustomerProfileNameFolded, "profile_name_folded", pattern.clone()));
        let contacts = Query::select()
            .column(contact::Column::Id)
            .from(contact::Entity)
            .and_where(Expr::col(contact::Column::WorkspaceId).eq(workspace))
            .and_where(Expr::col(contact::Column::NameFolded).like(like(pattern)))
            .to_owned();
        paths.push(own(Condition::all().add(Expr::col(Column::ContactId).in_subquery(contacts))));
    }
    if let Some(digits) = &search.phone_digits {
        paths.push(text(Column::CustomerPhone, "phone", format!("%{}%", like_escape(digits))));
    }
    paths
}

/// A page in a newest-first order, as a search of several paths sees it: the rows it may walk
/// (the workspace's, after the cursor), its filters (the workspace first), its order (a time,
/// then the id), and its size.
pub(crate) struct Page<E: EntityTrait> {
    pub(crate) scope: Condition,
    pub(crate) filters: Condition,
    pub(crate) order: (E::Column, E::Column),
    pub(crate) limit: u64,
}

/// How many of a page's newest rows (after its cursor) a search of several paths looks through
/// first, on PostgreSQL. A term that one row in 50 of them shares fills a page of 20 there.
const SEARCH_WALKS: u64 = 1_000;

impl<E: EntityTrait> Page<E> {
    /// Rows matching any of `paths` ([`Dialect::any_of_paths`]). On PostgreSQL the page first
    /// takes the ids of the first `limit` rows matching its filters and a path, among its
    /// [`SEARCH_WALKS`] newest rows in its order. When there are `limit` of them, they are the
    /// page (the rows walked come first in the order), and the union is not evaluated.
    pub(crate) fn any_of(self, dialect: Dialect, paths: Vec<SearchPath>) -> Condition {
        let (time, id) = self.order;
        let table = E::default();
        if dialect == Dialect::Sqlite {
            // SQLite takes the paths as one `OR` on the row, and would drop the walk unread.
            return dialect.any_of_paths((table, id), paths, None);
        }
        let mut newest = Query::select();
        newest
            .column(sea_orm::sea_query::Asterisk)
            .from(table)
            .cond_where(self.scope)
            .order_by((table, time), Order::Desc)
            .order_by((table, id), Order::Desc)
            .limit(SEARCH_WALKS);
        let matching =
            paths.iter().map(|(condition, _)| condition.clone()).fold(Condition::any(), Condition::add);
        // Named as the table, so the filters' columns (and their correlated subqueries) are
        // the walked rows'.
        let first = Query::select()
            .column((table, id))
            .from_subquery(newest, table)
            .cond_where(self.filters)
            .cond_where(matching)
            .order_by((table, time), Order::Desc)
            .order_by((table, id), Order::Desc)
            .limit(self.limit)
            .to_owned();
        dialect.any_of_paths((table, id), paths, Some((first, self.limit)))
    }
}

/// The condition of a search. On the page in the activity order (`page`), a search of several
/// paths first looks through the page's newest rows on PostgreSQL (see [`Page::any_of`]).
fn search_condition(
    db: &impl ConnectionTrait,
    workspace: WorkspaceId,
    search: &SearchQuery,
    page: Option<Page<Entity>>,
) -> Condition {
    let dialect = Dialect::of(db);
    let mut paths = search_paths(workspace, search);
    // One path (an `@username` search) is a plain condition of the page's own statement: the
    // planner then chooses between the username index and walking the activity order. On
    // PostgreSQL it chooses from its estimate of how many rows match, with the prefix's range
    // beside its `LIKE`. From the `LIKE` alone, a prefix that one of the column's histogram
    // entries happened to share was taken for 1% of the workspace: its page walked the whole
    // inbox order for 10 matches (280–530 ms at 1,000,000 conversations), in one run of the
    // bench and not in the next.
    if paths.len() == 1 {
        let condition = paths.remove(0).0;
        return match dialect.prefix_range((Entity, Column::CustomerUsernameKey), &search.username_prefix) {
            Some(range) => condition.add(range),
            None => condition,
        };
    }
    // A term many conversations share (a first name) matched tens of thousands of rows through
    // the union of the paths, and the page read and sorted all of them: "ana" at 1,000,000
    // conversations took 550–910 ms. The newest rows hold a page of such a term.
    match page {
        Some(page) => page.any_of(dialect, paths),
        None => dialect.any_of_paths((Entity, Column::Id), paths, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_underscores_and_percents_literally() {
        assert_eq!(like_escape("carlos_mx"), "carlos\\_mx");
        assert_eq!(like_escape("100%"), "100\\%");
        assert_eq!(like_escape("a\\b"), "a\\\\b");
    }
}
