//! Reports (PRODUCT.md section 19): first-response and resolution times, volumes and SLA
//! breaches grouped by day (in the business-hours time zone), agent, team and number; the CSV
//! export; and the migration that fills the facts of conversations that existed before.

use chrono::{Duration, Utc};
use migrations::{Migrator, MigratorTrait};
use serde_json::{Value, json};
use tests::fixtures::Inbound;

use crate::helpers::{Tenant, TestApp, error_code};

const REPORT: &str = "query($i: ReportInput!) { report(input: $i) { key label conversationsOpened \
    conversationsResolved messagesReceived messagesSent firstResponseTime { median p90 } \
    resolutionTime { median p90 } slaBreaches } }";

struct Scene {
    t: Tenant,
    agent: (domain::AgentId, String),
    team: String,
    a: domain::ConversationId,
    c: domain::ConversationId,
}

/// Three customers: Ana (wrote ten minutes ago; the admin answers and resolves, team
/// "Support, EMEA", label "vip"), Bo (wrote a minute ago; an agent answers), Cy (wrote two
/// minutes ago; nobody answers, and a one-minute first-response target is breached).
async fn scene(app: &TestApp) -> Scene {
    let t = app.tenant("Acme").await;
    let agent = app.agent(&t, "AGENT").await;
    let team = app
        .ok(&t.token, "mutation { createTeam(input: { name: \"Support, EMEA\" }) { id } }", json!({}))
        .await["createTeam"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let label = app
        .ok(
            &t.token,
            "mutation { createLabel(input: { name: \"vip\", color: \"#aa3300\" }) { id } }",
            json!({}),
        )
        .await["createLabel"]["id"]
        .clone();
    let a = app
        .receive(&t, &Inbound::with_phone("16505550111", "US.111", "Ana").ago(Duration::minutes(10)))
        .await;
    let b = app.receive(&t, &Inbound::hidden("US.112", "@bo", "Bo").ago(Duration::minutes(1))).await;
    let c = app.receive(&t, &Inbound::hidden("US.113", "@cy", "Cy").ago(Duration::minutes(2))).await;
    let member = "mutation($t: ID!, $a: ID!) { addTeamMember(teamId: $t, agentId: $a) { id } }";
    app.ok(&t.token, member, json!({ "t": team, "a": t.admin.to_string() })).await;
    let assign = "mutation($c: ID!, $a: ID, $t: ID) { assignConversation(conversationId: $c, agentId: $a, teamId: $t) { id } }";
    app.ok(&t.token, assign, json!({ "c": a.to_string(), "a": t.admin.to_string(), "t": team })).await;
    app.ok(&t.token, assign, json!({ "c": b.to_string(), "a": agent.0.to_string() })).await;
    let add = "mutation($c: ID!, $l: ID!) { addLabel(conversationId: $c, labelId: $l) { id } }";
    app.ok(&t.token, add, json!({ "c": a.to_string(), "l": label })).await;
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"On it\") { id } }";
    app.ok(&t.token, send, json!({ "c": a.to_string() })).await;
    app.ok(&agent.1, send, json!({ "c": b.to_string() })).await;
    app.ok(&t.token, send, json!({ "c": a.to_string() })).await; // a second reply is not a first response
    let resolve =
        "mutation($c: ID!) { resolveConversation(conversationId: $c) { id resolvedAt firstResponseAt } }";
    let resolved = app.ok(&t.token, resolve, json!({ "c": a.to_string() })).await;
    assert!(resolved["resolveConversation"]["resolvedAt"].is_string(), "{resolved}");
    assert!(resolved["resolveConversation"]["firstResponseAt"].is_string(), "{resolved}");
    apply_fast_policy(app, &t, c).await;
    api::workflow::sla::warn_and_breach(&app.db, Utc::now()).await.unwrap();
    Scene { t, agent, team, a, c }
}

/// Puts `c` under a new policy whose first response is due a minute after the customer's message.
async fn apply_fast_policy(app: &TestApp, t: &Tenant, c: domain::ConversationId) {
    let policy = app
        .ok(
            &t.token,
            "mutation { createSlaPolicy(input: { name: \"Fast\", firstResponseMinutes: 1 }) { id } }",
            json!({}),
        )
        .await["createSlaPolicy"]["id"]
        .clone();
    let apply = "mutation($c: ID!, $p: ID) { applySlaPolicy(conversationId: $c, policyId: $p) { id } }";
    app.ok(&t.token, apply, json!({ "c": c.to_string(), "p": policy })).await;
}

fn range() -> Value {
    json!({ "from": (Utc::now() - Duration::days(1)).to_rfc3339(), "to": (Utc::now() + Duration::days(1)).to_rfc3339() })
}

fn row<'a>(rows: &'a Value, key: &str) -> &'a Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows:#}"))
}

fn seconds(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not seconds: {v}"))
}

async fn report(app: &TestApp, t: &Tenant, group_by: &str, extra: Value) -> Value {
    let mut input = range();
    input["groupBy"] = json!(group_by);
    for (k, v) in extra.as_object().unwrap() {
        input[k] = v.clone();
    }
    app.ok(&t.token, REPORT, json!({ "i": input })).await["report"].clone()
}

/// Grouped by agent, team and number, each figure counts what happened in the range: first
/// responses from the customer's own message time (a second reply is not one), resolutions,
/// messages each way (sent: by their author), SLA breaches; medians and 90th percentiles are
/// values that occurred.
async fn reports_count_responses_resolutions_volumes_and_breaches(app: TestApp) {
    let s = scene(&app).await;
    let by_agent = report(&app, &s.t, "AGENT", json!({})).await;
    let admin = row(&by_agent, &s.t.admin.to_string());
    assert_eq!(admin["conversationsOpened"], 1);
    assert_eq!(admin["conversationsResolved"], 1);
    assert_eq!((admin["messagesReceived"].as_i64(), admin["messagesSent"].as_i64()), (Some(1), Some(2)));
    let ana = seconds(&admin["firstResponseTime"]["median"]);
    assert!((595..700).contains(&ana), "ten minutes from Ana's message: {ana}");
    assert!(seconds(&admin["resolutionTime"]["median"]) < 60, "{admin}");
    let agent = row(&by_agent, &s.agent.0.to_string());
    assert_eq!(agent["label"], "AGENT agent");
    let bo = seconds(&agent["firstResponseTime"]["median"]);
    assert!((55..120).contains(&bo), "a minute from Bo's message: {bo}");
    assert_eq!(agent["conversationsResolved"], 0);
    assert!(agent["resolutionTime"]["median"].is_null());
    let nobody = row(&by_agent, "none");
    assert_eq!(
        (nobody["label"].as_str(), nobody["conversationsOpened"].as_i64()),
        (Some("Unassigned"), Some(1))
    );
    assert_eq!(nobody["slaBreaches"], 1, "Cy's first response");
    assert_eq!(by_agent.as_array().unwrap().last().unwrap()["key"], "none", "unassigned last");

    let by_number = report(&app, &s.t, "BUSINESS_NUMBER", json!({})).await;
    assert_eq!(by_number.as_array().unwrap().len(), 1);
    let all = &by_number[0];
    assert_eq!(all["label"], s.t.number.display_phone_number.as_str());
    assert_eq!((all["conversationsOpened"].as_i64(), all["messagesReceived"].as_i64()), (Some(3), Some(3)));
    assert_eq!(all["messagesSent"], 3);
    // Nearest rank of two first responses: the median is the shorter, the 90th the longer.
    assert_eq!(seconds(&all["firstResponseTime"]["median"]), bo);
    assert_eq!(seconds(&all["firstResponseTime"]["p90"]), ana);

    let by_team = report(&app, &s.t, "TEAM", json!({})).await;
    let team = row(&by_team, &s.team);
    assert_eq!(
        (team["label"].as_str(), team["conversationsOpened"].as_i64()),
        (Some("Support, EMEA"), Some(1))
    );
    assert_eq!(row(&by_team, "none")["conversationsOpened"], 2);
    let only_team = report(&app, &s.t, "AGENT", json!({ "teamId": s.team })).await;
    assert_eq!(only_team.as_array().unwrap().len(), 1, "the team's conversations only: {only_team}");

    // Outside the range: nothing.
    let past =
        json!({ "i": { "from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z", "groupBy": "AGENT" } });
    assert_eq!(app.ok(&s.t.token, REPORT, past).await["report"], json!([]));
    // Refusals.
    let (_, agent_token) = &s.agent;
    let mut input = range();
    input["groupBy"] = json!("DAY");
    assert_eq!(
        error_code(&app.graphql(Some(agent_token), REPORT, json!({ "i": input.clone() })).await),
        "FORBIDDEN"
    );
    let backwards =
        json!({ "i": { "from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "groupBy": "DAY" } });
    assert_eq!(error_code(&app.graphql(Some(&s.t.token), REPORT, backwards).await), "BAD_USER_INPUT");
    let years =
        json!({ "i": { "from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "groupBy": "DAY" } });
    assert_eq!(error_code(&app.graphql(Some(&s.t.token), REPORT, years).await), "BAD_USER_INPUT");
    let other = app.tenant("Other").await;
    let foreign =
        app.ok(&other.token, "mutation { createTeam(input: { name: \"Theirs\" }) { id } }", json!({})).await;
    input["teamId"] = foreign["createTeam"]["id"].clone();
    assert_eq!(error_code(&app.graphql(Some(&s.t.token), REPORT, json!({ "i": input })).await), "NOT_FOUND");
    // Another workspace's report sees none of this one's conversations.
    let theirs = report(&app, &other, "BUSINESS_NUMBER", json!({})).await;
    assert!(theirs.as_array().unwrap().iter().all(|r| r["conversationsOpened"] == 0), "{theirs}");

    // Reopening takes the resolution back.
    let reopen = "mutation($c: ID!) { reopenConversation(conversationId: $c) { resolvedAt } }";
    let reopened = app.ok(&s.t.token, reopen, json!({ "c": s.a.to_string() })).await;
    assert!(reopened["reopenConversation"]["resolvedAt"].is_null());
    let by_agent = report(&app, &s.t, "AGENT", json!({})).await;
    assert_eq!(row(&by_agent, &s.t.admin.to_string())["conversationsResolved"], 0);

    // Reassigned, a conversation takes its messages and breaches along: Cy to the agent, in
    // the team.
    let member = "mutation($t: ID!, $a: ID!) { addTeamMember(teamId: $t, agentId: $a) { id } }";
    app.ok(&s.t.token, member, json!({ "t": s.team, "a": s.agent.0.to_string() })).await;
    let assign = "mutation($c: ID!, $a: ID, $t: ID) { assignConversation(conversationId: $c, agentId: $a, teamId: $t) { id } }";
    let to = json!({ "c": s.c.to_string(), "a": s.agent.0.to_string(), "t": s.team });
    app.ok(&s.t.token, assign, to).await;
    let by_agent = report(&app, &s.t, "AGENT", json!({})).await;
    let agent = row(&by_agent, &s.agent.0.to_string());
    assert_eq!(
        (
            agent["conversationsOpened"].as_i64(),
            agent["messagesReceived"].as_i64(),
            agent["slaBreaches"].as_i64()
        ),
        (Some(2), Some(2), Some(1)),
        "Bo's and Cy's: {agent}"
    );
    assert!(by_agent.as_array().unwrap().iter().all(|r| r["key"] != "none"), "{by_agent:#}");
    let by_team = report(&app, &s.t, "TEAM", json!({})).await;
    let team = row(&by_team, &s.team);
    assert_eq!(
        (team["messagesReceived"].as_i64(), team["messagesSent"].as_i64(), team["slaBreaches"].as_i64()),
        (Some(2), Some(2), Some(1)),
        "Ana's and Cy's: {team}"
    );
    let only_team = report(&app, &s.t, "BUSINESS_NUMBER", json!({ "teamId": s.team })).await;
    assert_eq!(
        (only_team[0]["messagesReceived"].as_i64(), only_team[0]["slaBreaches"].as_i64()),
        (Some(2), Some(1))
    );
}

/// By day, rows are the local days of the business-hours time zone (UTC+14 here), every day
/// of the range, empty ones included.
async fn a_report_by_day_uses_the_business_hours_time_zone(app: TestApp) {
    let s = scene(&app).await;
    let hours = "mutation { updateBusinessHours(input: { timeZone: \"Pacific/Kiritimati\", \
        weekly: [{ day: MONDAY, opens: \"09:00\", closes: \"17:00\" }] }) { timeZone } }";
    app.ok(&s.t.token, hours, json!({})).await;
    let rows = report(&app, &s.t, "DAY", json!({})).await;
    let rows = rows.as_array().unwrap();
    assert!((2..=3).contains(&rows.len()), "two days and a bit, in whole local days: {rows:?}");
    let today = (Utc::now() + Duration::hours(14)).date_naive().to_string();
    let busy =
        rows.iter().find(|r| r["key"] == today.as_str()).unwrap_or_else(|| panic!("{today}: {rows:?}"));
    assert_eq!(busy["conversationsOpened"], 3);
    assert_eq!(busy["label"], today.as_str());
    // The day's times are the same nearest ranks as the whole number's (all of them are today).
    let by_number = report(&app, &s.t, "BUSINESS_NUMBER", json!({})).await;
    for times in ["firstResponseTime", "resolutionTime"] {
        assert_eq!(busy[times], by_number[0][times], "{times}");
    }
    assert!(busy["firstResponseTime"]["median"].as_i64() < busy["firstResponseTime"]["p90"].as_i64());
    assert_eq!(rows.iter().map(|r| r["conversationsOpened"].as_i64().unwrap()).sum::<i64>(), 3);
    let keys: Vec<&str> = rows.iter().map(|r| r["key"].as_str().unwrap()).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted, "oldest first");
    // Seventeen days: each row still lands on its own day (the days are searched by halves).
    let input = json!({ "i": {
        "from": (Utc::now() - Duration::days(9)).to_rfc3339(),
        "to": (Utc::now() + Duration::days(8)).to_rfc3339(),
        "groupBy": "DAY",
    } });
    let rows = app.ok(&s.t.token, REPORT, input).await["report"].clone();
    let rows = rows.as_array().unwrap();
    assert!((17..=18).contains(&rows.len()), "{}", rows.len());
    let busy: Vec<&Value> = rows.iter().filter(|r| r["conversationsOpened"] != 0).collect();
    assert_eq!(busy.len(), 1, "{rows:?}");
    assert_eq!(
        (busy[0]["key"].as_str(), busy[0]["messagesReceived"].as_i64()),
        (Some(today.as_str()), Some(3))
    );
    assert_eq!(busy[0]["slaBreaches"], 1);
    let _ = s.c;
}

/// `GET /reports/conversations.csv`: an admin's bearer only (401, 403), RFC 4180 (CRLF,
/// quoted where needed), one row per conversation opened in the range, no phone and no
/// message text.
async fn the_csv_export_streams_facts_without_phones_or_texts(app: TestApp) {
    let s = scene(&app).await;
    let url = |from: &str, to: &str| app.url(&format!("/reports/conversations.csv?from={from}&to={to}"));
    let (from, to) = (
        (Utc::now() - Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        (Utc::now() + Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let get = |token: Option<String>, url: String| {
        let mut request = app.client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get(None, url(&from, &to)).await.unwrap().status(), 401);
    assert_eq!(get(Some("not-a-token".into()), url(&from, &to)).await.unwrap().status(), 401);
    assert_eq!(get(Some(s.agent.1.clone()), url(&from, &to)).await.unwrap().status(), 403);
    assert_eq!(get(Some(s.t.token.clone()), url("yesterday", &to)).await.unwrap().status(), 400);
    let response = get(Some(s.t.token.clone()), url(&from, &to)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let body = response.text().await.unwrap();
    let lines: Vec<&str> = body.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "conversation_id,opened_at,first_response_at,resolved_at,channel,team,assignee,labels,sla_breaches"
    );
    assert_eq!(lines.len(), 5, "header, three rows, and the final CRLF: {body}");
    assert!(!body.contains("6505550111") && !body.contains("On it") && !body.contains("Hello"), "{body}");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let ana = rows.iter().find(|r| &r[0] == s.a.to_string().as_str()).expect("Ana's row");
    assert_eq!(&ana[5], "Support, EMEA", "a comma is quoted");
    assert!(body.contains("\"Support, EMEA\""));
    assert_eq!((&ana[4], &ana[7]), ("WHATSAPP", "vip"));
    assert!(!ana[2].is_empty() && !ana[3].is_empty(), "first response and resolution");
    let cy = rows.iter().find(|r| &r[0] == s.c.to_string().as_str()).expect("Cy's row");
    assert_eq!((&cy[2], &cy[6], &cy[8]), ("", "", "1"));
    // Outside the range: the header only.
    let empty =
        get(Some(s.t.token.clone()), url("2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")).await.unwrap();
    assert_eq!(empty.text().await.unwrap().lines().count(), 1);
    // Another workspace's admin sees none of these.
    let other = app.tenant("Other").await;
    let theirs = get(Some(other.token.clone()), url(&from, &to)).await.unwrap().text().await.unwrap();
    assert_eq!(theirs.lines().count(), 1, "{theirs}");
}

/// The migration that adds the facts fills them for conversations that existed before: the
/// first agent message after the customer's, the resolution of resolved ones, and the copies
/// of the conversation's assignee, team and number on its messages and SLA clocks.
async fn the_report_facts_migration_fills_existing_conversations(app: TestApp) {
    let s = scene(&app).await;
    let conn = app.db.conn();
    Migrator::down(conn, Some(1)).await.expect("down one");
    Migrator::up(conn, None).await.expect("up again");
    let query = "query($c: ID!) { conversation(id: $c) { firstResponseAt resolvedAt } }";
    let ana = app.ok(&s.t.token, query, json!({ "c": s.a.to_string() })).await["conversation"].clone();
    assert!(ana["firstResponseAt"].is_string() && ana["resolvedAt"].is_string(), "{ana}");
    let cy = app.ok(&s.t.token, query, json!({ "c": s.c.to_string() })).await["conversation"].clone();
    assert!(cy["firstResponseAt"].is_null() && cy["resolvedAt"].is_null(), "{cy}");
    let by_agent = report(&app, &s.t, "AGENT", json!({})).await;
    let ana_took = seconds(&row(&by_agent, &s.t.admin.to_string())["firstResponseTime"]["median"]);
    assert!((595..700).contains(&ana_took), "from the stored messages: {ana_took}");
    // Messages and SLA clocks got their conversation's assignee, team and number back.
    let admin = row(&by_agent, &s.t.admin.to_string());
    assert_eq!((admin["messagesReceived"].as_i64(), admin["messagesSent"].as_i64()), (Some(1), Some(2)));
    assert_eq!(row(&by_agent, "none")["slaBreaches"], 1);
    let by_team = report(&app, &s.t, "TEAM", json!({})).await;
    assert_eq!(row(&by_team, &s.team)["messagesReceived"], 1);
    let number = json!({ "businessNumberId": s.t.number.id.to_string() });
    let by_number = report(&app, &s.t, "BUSINESS_NUMBER", number).await;
    assert_eq!(
        (by_number[0]["messagesReceived"].as_i64(), by_number[0]["slaBreaches"].as_i64()),
        (Some(3), Some(1))
    );
}

/// Sets a conversation's assignee the way a transaction that committed while another was
/// writing would leave it for that other: without touching its messages' and clocks' copies.
async fn assign_behind(app: &TestApp, conversation: domain::ConversationId, agent: domain::AgentId) {
    use sea_orm::ConnectionTrait;
    let conn = app.db.conn();
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Sqlite => "UPDATE conversations SET assignee_id = ?1 WHERE id = ?2",
        _ => "UPDATE conversations SET assignee_id = $1 WHERE id = $2",
    };
    let values = vec![agent.into(), conversation.into()];
    conn.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
}

/// A message or a breach written by a transaction that read its conversation before an
/// assignment committed counts under the assignee the row holds when it is written: the
/// webhook's message takes it from its conversation's update, the breach from the row.
async fn late_writes_count_under_the_assignee_of_the_row(app: TestApp) {
    let t = app.tenant("Acme").await;
    let c = app.receive(&t, &Inbound::hidden("US.121", "@di", "Di").ago(Duration::minutes(3))).await;
    apply_fast_policy(&app, &t, c).await;
    assign_behind(&app, c, t.admin).await;
    app.deliver(&t, &[&Inbound::hidden("US.121", "@di", "Di")]).await;
    api::workflow::sla::warn_and_breach(&app.db, Utc::now()).await.unwrap();
    let by_agent = report(&app, &t, "AGENT", json!({})).await;
    let admin = row(&by_agent, &t.admin.to_string());
    assert_eq!(
        (admin["messagesReceived"].as_i64(), admin["slaBreaches"].as_i64()),
        (Some(1), Some(1)),
        "the webhook's message and the breach: {by_agent:#}"
    );
}

on_both!(
    late_writes_count_under_the_assignee_of_the_row,
    reports_count_responses_resolutions_volumes_and_breaches,
    a_report_by_day_uses_the_business_hours_time_zone,
    the_csv_export_streams_facts_without_phones_or_texts,
    the_report_facts_migration_fills_existing_conversations,
);
