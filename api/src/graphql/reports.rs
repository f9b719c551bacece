//! Reports (PRODUCT.md section 19): `report(input)` for admins. The CSV export of the same
//! facts is `GET /reports/conversations.csv` (`crate::http::reports`).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use domain::{BusinessNumberId, TeamId};

use super::context::{db, parse_id, viewer};
use super::guards::RoleGuard;
use crate::workflow::reports::{self, By, ReportInput as Input};

/// How a report groups its rows.
#[derive(Enum, Copy, Clone, Debug, Eq, PartialEq)]
pub enum ReportGrouping {
    /// One row per local day of the range, in the business-hours time zone (else UTC), empty
    /// days included.
    Day,
    /// One row per agent: conversations by their assignee, messages sent by their author
    /// (`none`: unassigned).
    Agent,
    /// One row per team (`none`: no team).
    Team,
    /// One row per business number.
    BusinessNumber,
}

/// What a report covers.
#[derive(InputObject)]
pub struct ReportInput {
    /// Start of the range (inclusive), an instant.
    pub from: DateTime<Utc>,
    /// End of the range (exclusive), an instant.
    pub to: DateTime<Utc>,
    /// How rows are grouped.
    pub group_by: ReportGrouping,
    /// Only conversations of this team.
    pub team_id: Option<ID>,
    /// Only conversations of this business number.
    pub business_number_id: Option<ID>,
}

/// A median and 90th percentile of durations, in seconds (nearest rank: a value that
/// occurred); null when nothing was measured.
#[derive(SimpleObject, Clone, Copy)]
pub struct DurationStats {
    /// Half took at most this long.
    pub median: Option<i64>,
    /// Nine in ten took at most this long.
    pub p90: Option<i64>,
}

/// One row of a report. Each figure counts what happened in the range: conversations opened,
/// resolved, first responses and SLA breaches by when they happened.
#[derive(SimpleObject)]
pub struct ReportRow {
    /// The day (`YYYY-MM-DD`), or the id of the agent, team or number (`none`: unassigned or
    /// no team).
    pub key: String,
    /// The day, or the agent's, team's or number's name.
    pub label: String,
    /// Conversations opened.
    pub conversations_opened: i64,
    /// Conversations resolved (their latest resolution; a reopened one counts when resolved
    /// again).
    pub conversations_resolved: i64,
    /// Customer messages received.
    pub messages_received: i64,
    /// Messages sent to customers (agents', templates, away replies).
    pub messages_sent: i64,
    /// From the customer's first message to the first agent message (open time when the
    /// conversation's SLA policy counts business hours only).
    pub first_response_time: DurationStats,
    /// From opening to resolution (open time likewise).
    pub resolution_time: DurationStats,
    /// SLA targets breached.
    pub sla_breaches: i64,
}

/// Reports (ADMIN).
#[derive(Default)]
pub struct ReportQuery;

#[Object]
impl ReportQuery {
    /// First-response and resolution times, volumes and SLA breaches over `[from, to)`,
    /// grouped by day, agent, team or business number (ADMIN).
    #[graphql(guard = "RoleGuard::admin()")]
    async fn report(&self, ctx: &Context<'_>, input: ReportInput) -> Result<Vec<ReportRow>> {
        let team = input.team_id.as_ref().map(|id| parse_id::<TeamId>(id, "teamId")).transpose()?;
        let number = input
            .business_number_id
            .as_ref()
            .map(|id| parse_id::<BusinessNumberId>(id, "businessNumberId"))
            .transpose()?;
        let by = match input.group_by {
            ReportGrouping::Day => By::Day,
            ReportGrouping::Agent => By::Agent,
            ReportGrouping::Team => By::Team,
            ReportGrouping::BusinessNumber => By::BusinessNumber,
        };
        let input = Input { from: input.from, to: input.to, by, team, number };
        let rows = reports::report(db(ctx)?, viewer(ctx)?, input).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let t = row.tally;
                ReportRow {
                    key: row.key,
                    label: row.label,
                    conversations_opened: t.opened,
                    conversations_resolved: t.resolved,
                    messages_received: t.received,
                    messages_sent: t.sent,
                    first_response_time: DurationStats {
                        median: t.first_response.median,
                        p90: t.first_response.p90,
                    },
                    resolution_time: DurationStats { median: t.resolution.median, p90: t.resolution.p90 },
                    sla_breaches: t.sla_breaches,
                }
            })
            .collect())
    }
}
