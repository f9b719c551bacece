//! Reports (PRODUCT.md section 19): first-response and resolution times, volumes and SLA
//! breaches over a time range, grouped by day (in the business-hours time zone, else UTC),
//! agent, team or business number; and the conversations of a range as CSV, streamed page by
//! page (no phone, no message text). Both read stored facts (`persistence::reports`); admins
//! only.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::reports::{RangeError, check_range, local_days};
use domain::{BusinessNumberId, ConversationId, TeamId};
use futures::Stream;
use persistence::reports::{self, Grouping, Key, Scope, Tally};
use persistence::{Database, agents, business_numbers, labels, teams};

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};

/// How a report groups its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Day,
    Agent,
    Team,
    BusinessNumber,
}

/// What `report` takes.
#[derive(Clone, Copy, Debug)]
pub struct ReportInput {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub by: By,
    pub team: Option<TeamId>,
    pub number: Option<BusinessNumberId>,
}

/// One row of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The day (`YYYY-MM-DD`), or the id of the agent, team or number (`none`: unassigned, no
    /// team).
    pub key: String,
    pub label: String,
    pub tally: Tally,
}

fn range_error(err: RangeError) -> ApiError {
    ApiError::bad_input(format!("{err}"))
}

/// The report (admins).
///
/// # Errors
/// `FORBIDDEN` for others; `BAD_USER_INPUT` for an empty range or more than 400 days by day;
/// `NOT_FOUND` for a team or number of another workspace.
#[tracing::instrument(skip_all, fields(workspace_id = %viewer.workspace_id))]
pub async fn report(db: &Database, viewer: &Viewer, input: ReportInput) -> ApiResult<Vec<ReportRow>> {
    viewer.require_admin()?;
    check_range(input.from, input.to).map_err(range_error)?;
    let conn = db.conn();
    let ws = viewer.workspace_id;
    if let Some(team) = input.team {
        teams::find(conn, ws, team).await?.ok_or(ApiError::NotFound("team"))?;
    }
    if let Some(number) = input.number {
        business_numbers::find(conn, ws, number).await?.ok_or(ApiError::NotFound("business number"))?;
    }
    let (grouping, days) = match input.by {
        By::Day => {
            let tz = match persistence::hours::of(conn, ws).await? {
                Some(hours) => hours.time_zone,
                None => domain::hours::parse_time_zone("UTC")
                    .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?,
            };
            let days: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = local_days(tz, input.from, input.to)
                .map_err(range_error)?
                .into_iter()
                .map(|(date, start, end)| (date.to_string(), start, end))
                .collect();
            (Grouping::Day(days.clone()), days)
        }
        By::Agent => (Grouping::Agent, Vec::new()),
        By::Team => (Grouping::Team, Vec::new()),
        By::BusinessNumber => (Grouping::BusinessNumber, Vec::new()),
    };
    let scope = Scope {
        workspace: ws,
        from: input.from,
        to: input.to,
        grouping,
        team: input.team,
        number: input.number,
    };
    let mut tallies: HashMap<Key, Tally> = reports::tally(conn, &scope).await?.into_iter().collect();
    if input.by == By::Day {
        // Every day of the range, in order, empty ones too (a chart has no gaps).
        return Ok(days
            .into_iter()
            .map(|(day, _, _)| {
                let tally = tallies.remove(&Key::Day(day.clone())).unwrap_or_default();
                ReportRow { key: day.clone(), label: day, tally }
            })
            .collect());
    }
    let names: HashMap<uuid::Uuid, String> = match input.by {
        By::Agent => agents::list(conn, ws).await?.into_iter().map(|a| (a.id.into(), a.name)).collect(),
        By::Team => teams::list(conn, ws).await?.into_iter().map(|t| (t.id.into(), t.name)).collect(),
        _ => business_numbers::list(conn, ws)
            .await?
            .into_iter()
            .map(|n| (n.id.into(), n.display_phone_number.as_str().to_owned()))
            .collect(),
    };
    let nobody = match input.by {
        By::Agent => "Unassigned",
        By::Team => "No team",
        _ => "No number",
    };
    let mut rows: Vec<ReportRow> = tallies
        .into_iter()
        .map(|(key, tally)| {
            let id = match key {
                Key::Id(id) => id,
                Key::Day(_) => None,
            };
            let (key, label) = match id {
                Some(id) => (id.to_string(), names.get(&id).cloned().unwrap_or_else(|| id.to_string())),
                None => ("none".to_owned(), nobody.to_owned()),
            };
            ReportRow { key, label, tally }
        })
        .collect();
    rows.sort_by(|a, b| (a.key == "none", &a.label, &a.key).cmp(&(b.key == "none", &b.label, &b.key)));
    Ok(rows)
}

/// The CSV export's header.
pub const CSV_HEADER: [&str; 9] = [
    "conversation_id",
    "opened_at",
    "first_response_at",
    "resolved_at",
    "channel",
    "team",
    "assignee",
    "labels",
    "sla_breaches",
];

/// Conversations read per page of the export.
const PAGE: u64 = 1000;

/// Names of the workspace's teams, agents and labels (bounded by the workspace, not the
/// export).
struct Names {
    teams: HashMap<TeamId, String>,
    agents: HashMap<domain::AgentId, String>,
    labels: HashMap<uuid::Uuid, String>,
}

fn instant(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| at.to_rfc3339_opts(SecondsFormat::Secs, true)).unwrap_or_default()
}

fn csv_error(err: &csv::Error) -> std::io::Error {
    std::io::Error::other(err.to_string())
}

/// One page as CSV (the header first, for the first page).
fn page_csv(rows: &[reports::ExportRow], names: &Names, header: bool) -> Result<Bytes, std::io::Error> {
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    if header {
        out.write_record(CSV_HEADER).map_err(|e| csv_error(&e))?;
    }
    for row in rows {
        let team = row.team.and_then(|t| names.teams.get(&t).cloned()).unwrap_or_default();
        let assignee = row.assignee.and_then(|a| names.agents.get(&a).cloned()).unwrap_or_default();
        let labels: Vec<&str> =
            row.labels.iter().filter_map(|l| names.labels.get(l).map(String::as_str)).collect();
        out.write_record([
            row.id.to_string(),
            instant(Some(row.opened_at)),
            instant(row.first_response_at),
            instant(row.resolved_at),
            row.channel.clone(),
            team,
            assignee,
            labels.join(";"),
            row.sla_breaches.to_string(),
        ])
        .map_err(|e| csv_error(&e))?;
    }
    out.into_inner().map(Bytes::from).map_err(|e| std::io::Error::other(e.to_string()))
}

/// The conversations opened in `[from, to)` as CSV (RFC 4180: CRLF, quoted where needed),
/// oldest first: the header, then one page of rows at a time, read as the client takes them
/// (memory bounded by a page). Checks the viewer and the range before the first byte.
///
/// # Errors
/// `FORBIDDEN` for non-admins, `BAD_USER_INPUT` for an empty range, storage failures.
pub async fn export_csv(
    db: &Database,
    viewer: &Viewer,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<impl Stream<Item = Result<Bytes, std::io::Error>> + use<>> {
    viewer.require_admin()?;
    check_range(from, to).map_err(range_error)?;
    let conn = db.conn();
    let ws = viewer.workspace_id;
    let names = Names {
        teams: teams::list(conn, ws).await?.into_iter().map(|t| (t.id, t.name)).collect(),
        agents: agents::list(conn, ws).await?.into_iter().map(|a| (a.id, a.name)).collect(),
        labels: labels::list(conn, ws).await?.into_iter().map(|l| (l.id.into(), l.name)).collect(),
    };
    struct Cursor {
        db: Database,
        after: Option<(DateTime<Utc>, ConversationId)>,
        first: bool,
        done: bool,
    }
    let start = Cursor { db: db.clone(), after: None, first: true, done: false };
    Ok(futures::stream::unfold((start, names), move |(mut cursor, names)| async move {
        if cursor.done {
            return None;
        }
        let page = match reports::export_page(cursor.db.conn(), ws, (from, to), cursor.after, PAGE).await {
            Ok(page) => page,
            Err(err) => {
                tracing::error!(error = %err, "the conversations export stopped");
                cursor.done = true;
                return Some((Err(std::io::Error::other("storage failure")), (cursor, names)));
            }
        };
        cursor.done = (page.len() as u64) < PAGE;
        cursor.after = page.last().map(|r| (r.opened_at, r.id));
        if page.is_empty() && !cursor.first {
            return None;
        }
        let chunk = page_csv(&page, &names, cursor.first);
        cursor.first = false;
        Some((chunk, (cursor, names)))
    }))
}
