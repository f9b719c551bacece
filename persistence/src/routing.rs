//! Availability, presence and the team router's storage (PRODUCT.md section 18).
//!
//! An agent takes new work when `availability = 'ONLINE'` and `present_until` is in the
//! future (an open WebSocket keeps moving it ahead). A conversation waits in its team's queue
//! while it is `OPEN`, in a team and unassigned (`ix_conversations_waiting`, oldest first). The
//! router's pass over one workspace holds that workspace's routing lock (a transaction-scoped
//! advisory lock on PostgreSQL; SQLite serialises writers), reads each routed team's members
//! who take work with their open load (`ix_conversations_assignee_open`), and assigns with a
//! conditional update (`assignee_id IS NULL`): exactly one assignment per conversation, and no
//! member over capacity, however many processes route at once.

use chrono::{DateTime, Utc};
use domain::routing::{Candidate, pick};
use domain::{AgentId, Availability, RoutingMode, TeamId, WorkspaceId};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Statement};

use crate::dialect::Dialect;
use crate::entities::{agent, conversation, team, team_member};
use crate::error::{DbContext, Error};
use crate::work::{Announce, Work};

/// Sets an agent's availability (and, when `present_until` is given, its presence); returns
/// the agent as stored (`None`: not of the workspace). Wakes the router.
///
/// # Errors
/// On a database failure.
pub async fn set_availability(
    db: &impl Announce,
    workspace: WorkspaceId,
    id: AgentId,
    availability: Availability,
    present_until: Option<DateTime<Utc>>,
) -> Result<Option<agent::Model>, Error> {
    let mut update = agent::Entity::update_many()
        .col_expr(agent::Column::Availability, Expr::value(availability))
        .filter(agent::Column::Id.eq(id))
        .filter(agent::Column::WorkspaceId.eq(workspace));
    if let Some(until) = present_until {
        update = update.col_expr(agent::Column::PresentUntil, Expr::value(until));
    }
    update.exec(db).await.context("failed to set availability")?;
    db.announce(Work::Route);
    crate::agents::find(db, workspace, id).await
}

/// Keeps `agents` present until `until` (their sockets are open); returns how many were not
/// present at `now` before (the router is woken for them).
///
/// # Errors
/// On a database failure.
pub async fn keep_present(
    db: &impl Announce,
    agents: &[AgentId],
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, Error> {
    if agents.is_empty() {
        return Ok(0);
    }
    // Those present already: only their time moves (first, so the two sets stay apart).
    agent::Entity::update_many()
        .col_expr(agent::Column::PresentUntil, Expr::value(until))
        .filter(agent::Column::Id.is_in(agents.iter().copied()))
        .filter(agent::Column::PresentUntil.gt(now))
        .exec(db)
        .await
        .context("failed to record presence")?;
    let back = agent::Entity::update_many()
        .col_expr(agent::Column::PresentUntil, Expr::value(until))
        .filter(agent::Column::Id.is_in(agents.iter().copied()))
        .filter(
            sea_orm::Condition::any()
                .add(agent::Column::PresentUntil.is_null())
                .add(agent::Column::PresentUntil.lte(now)),
        )
        .exec(db)
        .await
        .context("failed to record presence")?
        .rows_affected;
    if back > 0 {
        db.announce(Work::Route);
    }
    Ok(back)
}

/// The condition, in SQL over `agents a` and `teams t`, that an agent takes work from team
/// `t` at placeholder `now`: online, present, active, and with room under the capacity.
fn takes_work(now: &str) -> String {
    format!(
        "a.active AND a.availability = 'ONLINE' AND a.present_until > {now} \
         AND (t.capacity IS NULL OR (SELECT COUNT(*) FROM conversations o \
              WHERE o.assignee_id = a.id AND o.status = 'OPEN') < t.capacity)"
    )
}

/// Whether the router has anything to do at `now`: a routed team with a waiting conversation
/// and a member who takes work (one statement).
///
/// # Errors
/// On a database failure.
pub async fn has_work(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<bool, Error> {
    let dialect = Dialect::of(db);
    let sql = format!(
        "SELECT t.id FROM teams t WHERE t.routing_mode <> 'MANUAL' \
         AND EXISTS (SELECT 1 FROM conversations c WHERE c.team_id = t.id AND c.status = 'OPEN' \
                     AND c.assignee_id IS NULL) \
         AND EXISTS (SELECT 1 FROM team_members m JOIN agents a ON a.id = m.agent_id \
                     WHERE m.team_id = t.id AND {}) \
         LIMIT 1",
        takes_work(&dialect.placeholder(1))
    );
    let found = db
        .query_one_raw(Statement::from_sql_and_values(dialect.backend(), sql, [now.into()]))
        .await
        .context("failed to check the routing queue")?;
    Ok(found.is_some())
}

/// One automatic assignment.
#[derive(Clone, Debug)]
pub struct Assigned {
    pub conversation: conversation::Model,
    pub agent: AgentId,
    pub team: TeamId,
}

/// Routes up to `limit` waiting conversations of every routed team at `now`; returns the
/// assignments made.
///
/// # Errors
/// On a database failure.
pub async fn route(db: &impl Announce, now: DateTime<Utc>, limit: usize) -> Result<Vec<Assigned>, Error> {
    let mut teams = team::Entity::find()
        .filter(team::Column::RoutingMode.ne(RoutingMode::Manual))
        .all(db)
        .await
        .context("failed to load routed teams")?;
    teams.sort_by_key(|t| (t.workspace_id, t.id));
    let mut done = Vec::new();
    let mut locked = None;
    for team in teams {
        if done.len() >= limit {
            break;
        }
        if locked != Some(team.workspace_id) {
            lock_routing(db, team.workspace_id).await?;
            locked = Some(team.workspace_id);
        }
        done.extend(route_team(db, &team, now, limit - done.len()).await?);
    }
    Ok(done)
}

/// The workspace's routing lock, held to the end of the transaction (PostgreSQL; SQLite
/// serialises writers anyway).
async fn lock_routing(db: &impl ConnectionTrait, workspace: WorkspaceId) -> Result<(), Error> {
    let dialect = Dialect::of(db);
    if dialect == Dialect::Sqlite {
        return Ok(());
    }
    let bytes = workspace.as_uuid().into_bytes();
    let mut key = [0u8; 8];
    for (i, b) in bytes.iter().enumerate() {
        key[i % 8] ^= b;
    }
    // The routing locks' own key space: the workspace's bytes folded, with a fixed tag.
    let key = i64::from_be_bytes(key) ^ 0x5041_524c_4559_5254;
    db.execute_raw(Statement::from_sql_and_values(
        dialect.backend(),
        "SELECT pg_advisory_xact_lock($1)",
        [key.into()],
    ))
    .await
    .context("failed to take the routing lock")?;
    Ok(())
}

/// The members of `team` who take work at `now`, in the order they joined.
async fn candidates(
    db: &impl ConnectionTrait,
    team: &team::Model,
    now: DateTime<Utc>,
) -> Result<Vec<Candidate>, Error> {
    #[derive(FromQueryResult)]
    struct Row {
        agent_id: AgentId,
        last_assigned: i64,
        load: i64,
    }
    let dialect = Dialect::of(db);
    let sql = format!(
        "SELECT m.agent_id, m.last_assigned, \
                (SELECT COUNT(*) FROM conversations o WHERE o.assignee_id = a.id AND o.status = 'OPEN') AS load \
         FROM team_members m JOIN agents a ON a.id = m.agent_id \
         WHERE m.team_id = {team} AND a.active AND a.availability = 'ONLINE' AND a.present_until > {now} \
         ORDER BY m.created_at, m.id",
        team = dialect.placeholder(1),
        now = dialect.placeholder(2),
    );
    let rows = Row::find_by_statement(Statement::from_sql_and_values(
        dialect.backend(),
        sql,
        [team.id.into(), now.into()],
    ))
    .all(db)
    .await
    .context("failed to load the team's available members")?;
    Ok(rows
        .into_iter()
        .map(|r| Candidate { agent: r.agent_id, load: r.load, last_assigned: r.last_assigned })
        .collect())
}

async fn route_team(
    db: &impl Announce,
    team: &team::Model,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<Assigned>, Error> {
    let mut members = candidates(db, team, now).await?;
    if pick(team.routing_mode, team.capacity, &members).is_none() {
        return Ok(Vec::new());
    }
    let waiting = waiting(db, team.id, limit).await?;
    let mut seq = last_assignment(db, team.id).await?;
    let mut done = Vec::new();
    for conversation in waiting {
        let Some(i) = pick(team.routing_mode, team.capacity, &members) else { break };
        let agent = members[i].agent;
        let Some(saved) = assign_if_waiting(db, &conversation, team.id, agent, now).await? else { continue };
        seq += 1;
        team_member::Entity::update_many()
            .col_expr(team_member::Column::LastAssigned, Expr::value(seq))
            .filter(team_member::Column::TeamId.eq(team.id))
            .filter(team_member::Column::AgentId.eq(agent))
            .exec(db)
            .await
            .context("failed to record an assignment")?;
        members[i].load += 1;
        members[i].last_assigned = seq;
        done.push(Assigned { conversation: saved, agent, team: team.id });
    }
    Ok(done)
}

/// The team's waiting conversations, oldest first.
///
/// # Errors
/// On a database failure.
pub async fn waiting(
    db: &impl ConnectionTrait,
    team: TeamId,
    limit: usize,
) -> Result<Vec<conversation::Model>, Error> {
    use sea_orm::{QueryOrder, QuerySelect};
    conversation::Entity::find()
        .filter(conversation::Column::TeamId.eq(team))
        .filter(conversation::Column::Status.eq(domain::ConversationStatus::Open))
        .filter(conversation::Column::AssigneeId.is_null())
        .order_by_asc(conversation::Column::CreatedAt)
        .order_by_asc(conversation::Column::Id)
        .limit(u64::try_from(limit).unwrap_or(u64::MAX))
        .all(db)
        .await
        .context("failed to load the team's queue")
}

/// How many conversations wait in each of `teams`' queues (one statement).
///
/// # Errors
/// On a database failure.
pub async fn queue_sizes(
    db: &impl ConnectionTrait,
    teams: &[TeamId],
) -> Result<std::collections::HashMap<TeamId, i64>, Error> {
    use sea_orm::QuerySelect;
    if teams.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let rows: Vec<(TeamId, i64)> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::TeamId)
        .column_as(conversation::Column::Id.count(), "n")
        .filter(conversation::Column::TeamId.is_in(teams.iter().copied()))
        .filter(conversation::Column::Status.eq(domain::ConversationStatus::Open))
        .filter(conversation::Column::AssigneeId.is_null())
        .group_by(conversation::Column::TeamId)
        .into_tuple()
        .all(db)
        .await
        .context("failed to count the team queues")?;
    Ok(rows.into_iter().collect())
}

async fn last_assignment(db: &impl ConnectionTrait, team: TeamId) -> Result<i64, Error> {
    use sea_orm::QuerySelect;
    let max: Option<Option<i64>> = team_member::Entity::find()
        .select_only()
        .column_as(team_member::Column::LastAssigned.max(), "m")
        .filter(team_member::Column::TeamId.eq(team))
        .into_tuple()
        .one(db)
        .await
        .context("failed to read the team's assignments")?;
    Ok(max.flatten().unwrap_or(0))
}

/// Assigns `conversation` to `agent` if it still waits in `team`'s queue (another process or
/// an agent may have taken it): the updated row, or `None`.
async fn assign_if_waiting(
    db: &impl ConnectionTrait,
    conversation: &conversation::Model,
    team: TeamId,
    agent: AgentId,
    now: DateTime<Utc>,
) -> Result<Option<conversation::Model>, Error> {
    let updated = conversation::Entity::update_many()
        .col_expr(conversation::Column::AssigneeId, Expr::value(agent))
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conversation.id))
        .filter(conversation::Column::TeamId.eq(team))
        .filter(conversation::Column::Status.eq(domain::ConversationStatus::Open))
        .filter(conversation::Column::AssigneeId.is_null())
        .exec(db)
        .await
        .context("failed to assign a waiting conversation")?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    crate::reports::follow_assignment(db, conversation.id, Some(agent), Some(team)).await?;
    conversation::Entity::find_by_id(conversation.id).one(db).await.context("failed to reload a conversation")
}
