//! The `report` scenario (PostgreSQL): `report(input)` over N conversations (default
//! 1,000,000) spread over 30 days, 20 agents in 4 teams, 70% resolved, every one answered, two
//! messages each and 5% with a breached SLA target: the answer time of each grouping over the
//! whole range and by agent over the last day (the server's GraphQL, one client), the plan of
//! each of the report's statements over both (`EXPLAIN ANALYZE`), and `GET /reports/conversations.csv` of every conversation, streamed, with the
//! server's peak RSS before and after.
//!
//! Seeding is PostgreSQL's own (`INSERT … SELECT … generate_series`), so a million take a
//! minute or two.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::harness::{Env, graphql, peak_rss_mb, start};

const AGENTS: usize = 20;
const TEAMS: usize = 4;
const DAYS: i64 = 30;

async fn execute(env: &Env, sql: &str) -> anyhow::Result<()> {
    env.db.conn().execute_unprepared(sql).await?;
    Ok(())
}

/// Agents, teams and a policy; then the conversations, their messages and breached clocks.
async fn seed(env: &Env, n: usize) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let mut agents = Vec::new();
    for i in 0..AGENTS {
        let email = domain::Email::parse(&format!("agent{i}@example.com"))?;
        let new = persistence::agents::NewAgent {
            id: domain::AgentId::new(),
            workspace_id: env.workspace,
            email: &email,
            name: &format!("Agent {i:02}"),
            role: domain::Role::Agent,
        };
        agents.push(env.db.write(async |txn| persistence::agents::create(txn, new, now).await).await?.id);
    }
    let mut teams = Vec::new();
    for i in 0..TEAMS {
        teams.push(
            persistence::teams::create(env.db.conn(), env.workspace, &format!("Team {i}"), now).await?.id,
        );
    }
    let policy = persistence::sla::NewPolicy {
        workspace_id: env.workspace,
        name: "Standard",
        first_response_minutes: Some(30),
        next_response_minutes: None,
        resolution_minutes: Some(480),
        business_hours_only: false,
    };
    let policy = env.db.write(async |txn| persistence::sla::create_policy(txn, policy, now).await).await?.id;
    let array = |ids: Vec<String>| {
        format!("ARRAY[{}]::uuid[]", ids.iter().map(|i| format!("'{i}'")).collect::<Vec<_>>().join(","))
    };
    let agents = array(agents.iter().map(ToString::to_string).collect());
    let teams = array(teams.iter().map(ToString::to_string).collect());
    let (ws, number) = (env.workspace, env.number);
    let step = (DAYS * 86_400 * 1_000_000) / i64::try_from(n.max(1))?;
    // Opened i * step microseconds ago; answered within an hour; 70% resolved within a day.
    execute(env, &format!("\
        INSERT INTO conversations (id, workspace_id, business_number_id, channel, active_channel, key_kind, \
            key_value, customer_bsuid, status, origin, last_inbound_at, inbound_stored_at, last_activity_at, \
            created_at, updated_at, window_warned_for, window_closed_for, sms_opted_out, assignee_id, team_id, \
            first_response_at, first_response_seconds, resolved_at, resolution_seconds, sla_breached) \
        SELECT gen_random_uuid(), '{ws}', '{number}', 'WHATSAPP', 'WHATSAPP', 'BSUID', \
            'US.' || (500000000 + i), 'US.' || (500000000 + i), \
            CASE WHEN i % 10 < 7 THEN 'RESOLVED' ELSE 'OPEN' END, 'FIRST_CONTACT', \
            at, at, at, at, at, at, at, false, \
            ({agents})[1 + i % {AGENTS}], ({teams})[1 + i % {TEAMS}], \
            at + ((i * 7919) % 3600) * interval '1 second', (i * 7919) % 3600, \
            CASE WHEN i % 10 < 7 THEN at + ((i * 104729) % 86400) * interval '1 second' END, \
            CASE WHEN i % 10 < 7 THEN (i * 104729) % 86400 END, i % 20 = 0 \
        FROM (SELECT i, now() - i * {step} * interval '1 microsecond' AS at \
              FROM generate_series(0::bigint, {n}::bigint - 1) AS i) AS s")).await?;
    execute(env, &format!("\
        INSERT INTO messages (id, workspace_id, conversation_id, business_number_id, direction, channel, kind, \
            text, status, external_id, attempts, sent_at, created_at, updated_at, author_agent_id, \
            conversation_assignee_id, conversation_team_id) \
        SELECT gen_random_uuid(), c.workspace_id, c.id, c.business_number_id, d.direction, 'WHATSAPP', 'text', \
            'hello', CASE WHEN d.direction = 'INBOUND' THEN 'RECEIVED' ELSE 'DELIVERED' END, \
            'wamid.REP' || d.direction || c.id::text, 0, \
            CASE WHEN d.direction = 'INBOUND' THEN c.created_at ELSE c.first_response_at END, \
            CASE WHEN d.direction = 'INBOUND' THEN c.created_at ELSE c.first_response_at END, \
            c.created_at, CASE WHEN d.direction = 'OUTBOUND' THEN c.assignee_id END, c.assignee_id, c.team_id \
        FROM conversations c, (VALUES ('INBOUND'), ('OUTBOUND')) AS d(direction) \
        WHERE c.workspace_id = '{ws}'")).await?;
    execute(env, &format!("\
        INSERT INTO sla_clocks (id, workspace_id, conversation_id, policy_id, target, minutes, business_hours_only, \
            started_at, warn_at, due_at, warned_at, breached_at, business_number_id, conversation_assignee_id, \
            conversation_team_id) \
        SELECT gen_random_uuid(), c.workspace_id, c.id, '{policy}', 'FIRST_RESPONSE', 30, false, c.created_at, \
            c.created_at + interval '24 minutes', c.created_at + interval '30 minutes', \
            c.created_at + interval '24 minutes', c.created_at + interval '30 minutes', c.business_number_id, \
            c.assignee_id, c.team_id \
        FROM conversations c WHERE c.workspace_id = '{ws}' AND c.sla_breached")).await?;
    crate::seed::settle(&env.db).await?;
    Ok(())
}

const REPORT: &str = "query($i: ReportInput!) { report(input: $i) { key label conversationsOpened \
    conversationsResolved messagesReceived messagesSent firstResponseTime { median p90 } \
    resolutionTime { median p90 } slaBreaches } }";

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub(crate) async fn report(database_url: String, conversations: usize, runs: usize) -> anyhow::Result<()> {
    let env = start(Some(database_url), 4).await?;
    if env.database.backend != "PostgreSQL" {
        bail!("the report scenario runs on PostgreSQL (pass a postgres:// --database-url)");
    }
    let started = Instant::now();
    seed(&env, conversations).await?;
    let seeded = started.elapsed();
    let (from, to) = (
        chrono::Utc::now() - chrono::Duration::days(DAYS + 1),
        chrono::Utc::now() + chrono::Duration::hours(1),
    );
    println!(
        "report on PostgreSQL, {}, {conversations} conversations over {DAYS} days ({} messages, seeded in {:.0} s), 1 client, {runs} runs each",
        chrono::Utc::now().format("%Y-%m-%d"),
        conversations * 2,
        seeded.as_secs_f64()
    );
    println!("{:>16} {:>6} {:>10} {:>10}", "grouping", "rows", "p50 ms", "max ms");
    let mut results = serde_json::Map::new();
    // The whole range by each grouping, then the last day by agent (the range indexes' case).
    let last_day = chrono::Utc::now() - chrono::Duration::days(1);
    let cases = [
        ("DAY", "DAY", from),
        ("AGENT", "AGENT", from),
        ("TEAM", "TEAM", from),
        ("BUSINESS_NUMBER", "BUSINESS_NUMBER", from),
        ("AGENT, last day", "AGENT", last_day),
    ];
    for (name, grouping, from) in cases {
        let whole = from < last_day;
        let input = json!({ "i": { "from": from.to_rfc3339(), "to": to.to_rfc3339(), "groupBy": grouping } });
        let mut samples = Vec::with_capacity(runs);
        let mut rows = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let body = json!({ "query": REPORT, "variables": input.clone() });
            let data: Value =
                graphql(&env.client, &format!("{}/graphql", env.base), &env.token, &body).await?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            let list =
                data["data"]["report"].as_array().with_context(|| format!("report answered {data}"))?;
            rows = list.len();
            let opened: i64 = list.iter().filter_map(|r| r["conversationsOpened"].as_i64()).sum();
            let expected = if whole { conversations } else { conversations.div_ceil(usize::try_from(DAYS)?) };
            anyhow::ensure!(
                usize::try_from(opened)?.abs_diff(expected) <= expected / 100,
                "{name}: {opened} opened"
            );
        }
        let max = samples.iter().copied().fold(0.0, f64::max);
        let p50 = median(samples);
        println!("{name:>16} {rows:>6} {p50:>10.0} {max:>10.0}");
        let key = name.to_lowercase().replace(", ", "_").replace(' ', "_");
        results.insert(key, json!({ "rows": rows, "p50_ms": p50, "max_ms": max }));
    }

    // The plans of the five statements of a report by agent over the whole range, then the last day.
    for (range, from) in [("the whole range", from), ("the last day", last_day)] {
        let scope = persistence::reports::Scope {
            workspace: env.workspace,
            from,
            to,
            grouping: persistence::reports::Grouping::Agent,
            team: None,
            number: None,
        };
        println!(
            "\nplans (EXPLAIN ANALYZE, work_mem 64 MB and no JIT, as the server sets them) of a report by agent over {range}:"
        );
        for (name, statement) in ["opened", "resolved", "first responses", "messages", "SLA breaches"]
            .iter()
            .zip(persistence::reports::statements(env.db.backend(), &scope))
        {
            let explain = Statement::from_sql_and_values(
                env.db.backend(),
                format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {}", statement.sql),
                statement.values.map(|v| v.0).unwrap_or_default(),
            );
            let txn = sea_orm::TransactionTrait::begin(env.db.conn()).await?;
            txn.execute_unprepared("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off").await?;
            let lines = txn.query_all_raw(explain).await?;
            txn.commit().await?;
            println!("-- {name}");
            for line in lines {
                let text: String = line.try_get_by_index(0)?;
                println!("   {text}");
            }
        }
    }

    // The CSV of every conversation, streamed; the server's peak RSS before and after.
    let before = peak_rss_mb(env.pid);
    let url = format!(
        "{}/reports/conversations.csv?from={}&to={}",
        env.base,
        from.format("%Y-%m-%dT%H:%M:%SZ"),
        to.format("%Y-%m-%dT%H:%M:%SZ")
    );
    let t = Instant::now();
    let response =
        env.client.get(url).bearer_auth(&env.token).timeout(Duration::from_secs(3600)).send().await?;
    anyhow::ensure!(response.status().is_success(), "export answered {}", response.status());
    let (mut bytes, mut lines) = (0usize, 0usize);
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let took = t.elapsed().as_secs_f64();
    let after = peak_rss_mb(env.pid);
    anyhow::ensure!(lines == conversations + 1, "the export has {lines} lines");
    println!(
        "\nCSV export: {lines} lines, {:.0} MB in {took:.1} s ({:.0} rows/s); server peak RSS {before:.0} MB before, {after:.0} MB after",
        bytes as f64 / 1e6,
        conversations as f64 / took
    );
    results.insert(
        "csv".into(),
        json!({ "rows": conversations, "seconds": took, "megabytes": bytes as f64 / 1e6,
            "server_peak_rss_mb_before": before, "server_peak_rss_mb_after": after }),
    );
    println!(
        "{}",
        json!({ "scenario": "report", "backend": env.database.backend, "conversations": conversations, "results": results })
    );
    env.finish().await
}
