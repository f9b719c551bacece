//! The `growth` scenario (PostgreSQL): the desktop's inbox list and `@username` search as the
//! workspace grows from 100,000 to 10,000,000 conversations, one client, with the tables' and
//! largest indexes' sizes at each step.
//!
//! The first step is seeded like the other scenarios (names, usernames, phones, ten messages
//! each); each further step adds older conversations with one inbound message each, generated
//! by PostgreSQL itself (`INSERT … SELECT … generate_series`), so 10,000,000 take minutes.

use std::time::Instant;

use anyhow::{Context as _, bail};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::harness::{Env, Run, drive, graphql, start};
use crate::scenarios::inbox::desktop_inbox_without_counts;
use crate::seed::{seed_conversations, seed_messages};

/// Older conversations `from..to` (numbered after the first step's), one message each.
const GROW: &str = "\
    INSERT INTO conversations (id, workspace_id, business_number_id, channel, active_channel, key_kind, \
        key_value, customer_bsuid, customer_username, customer_username_key, customer_profile_name, \
        customer_profile_name_folded, status, origin, last_inbound_at, inbound_stored_at, last_activity_at, \
        created_at, updated_at, window_warned_for, window_closed_for, sms_opted_out) \
    SELECT gen_random_uuid(), t.workspace_id, t.business_number_id, 'WHATSAPP', 'WHATSAPP', 'BSUID', \
        'US.' || (300000000 + i), 'US.' || (300000000 + i), '@grow_' || i, 'grow_' || i, \
        'Grown Customer ' || i, 'grown customer ' || i, 'OPEN', 'FIRST_CONTACT', \
        now() - interval '400 days' - i * interval '1 second', \
        now() - interval '400 days' - i * interval '1 second', \
        now() - interval '400 days' - i * interval '1 second', \
        now() - interval '400 days' - i * interval '1 second', \
        now() - interval '400 days' - i * interval '1 second', \
        now() - interval '400 days' - i * interval '1 second', \
        now() - interval '400 days' - i * interval '1 second', false \
    FROM generate_series($1::bigint, $2::bigint - 1) AS i, \
        (SELECT workspace_id, business_number_id FROM conversations LIMIT 1) AS t";

/// One inbound message for each conversation `from..to` of [`GROW`] (found through the
/// `(workspace_id, key_kind, key_value)` index: the keys are fixed-width numbers).
const GROW_MESSAGES: &str = "\
    INSERT INTO messages (id, workspace_id, conversation_id, business_number_id, direction, channel, \
        kind, text, status, external_id, attempts, sent_at, created_at, updated_at) \
    SELECT gen_random_uuid(), c.workspace_id, c.id, c.business_number_id, 'INBOUND', 'WHATSAPP', 'text', \
        'hello', 'RECEIVED', 'wamid.GROW' || c.id::text, 0, c.last_activity_at, c.last_activity_at, \
        c.last_activity_at \
    FROM conversations c, (SELECT workspace_id FROM conversations LIMIT 1) AS t \
    WHERE c.workspace_id = t.workspace_id AND c.key_kind = 'BSUID' \
        AND c.key_value >= 'US.' || (300000000 + $1::bigint) AND c.key_value < 'US.' || (300000000 + $2::bigint)";

async fn execute(env: &Env, sql: &str, values: Vec<sea_orm::Value>) -> anyhow::Result<()> {
    env.db.conn().execute_raw(Statement::from_sql_and_values(env.db.backend(), sql, values)).await?;
    Ok(())
}

/// Drops the non-unique indexes of `conversations`, `messages` and `conversation_search` (the
/// searchable names, written by a trigger); returns their definitions.
async fn drop_secondary_indexes(env: &Env) -> anyhow::Result<Vec<String>> {
    let rows = env
        .db
        .conn()
        .query_all_raw(Statement::from_string(
            env.db.backend(),
            "SELECT i.indexname::text AS name, i.indexdef::text AS definition FROM pg_indexes i \
             JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid \
             WHERE i.schemaname = 'public' AND i.tablename IN ('conversations', 'messages', 'conversation_search') \
             AND NOT x.indisunique",
        ))
        .await?;
    let mut definitions = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        definitions.push(row.try_get::<String>("", "definition")?);
        execute(env, &format!("DROP INDEX \"{name}\""), Vec::new()).await?;
    }
    Ok(definitions)
}

/// The largest tables and indexes, with their sizes.
async fn sizes(env: &Env) -> anyhow::Result<Value> {
    let rows = env
        .db
        .conn()
        .query_all_raw(Statement::from_string(
            env.db.backend(),
            "SELECT relname::text AS name, relkind::text AS kind, pg_total_relation_size(oid) AS bytes \
             FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'i') \
             ORDER BY pg_total_relation_size(oid) DESC LIMIT 6",
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let name: String = row.try_get("", "name")?;
        let kind: String = row.try_get("", "kind")?;
        let bytes: i64 = row.try_get("", "bytes")?;
        #[allow(clippy::cast_precision_loss)]
        out.push(json!({ "name": name, "kind": if kind == "r" { "table" } else { "index" }, "mb": bytes as f64 / 1_048_576.0 }));
    }
    Ok(Value::Array(out))
}

async fn measure(
    env: &Env,
    requests: usize,
    body: impl Fn(usize) -> Value + Send + Sync + 'static,
) -> anyhow::Result<Run> {
    let (client, token, url) = (env.client.clone(), env.token.clone(), format!("{}/graphql", env.base));
    let body = std::sync::Arc::new(body);
    drive(requests, 1, move |i| {
        let (client, token, url, body) =
            (client.clone(), token.clone(), url.clone(), std::sync::Arc::clone(&body));
        async move { graphql(&client, &url, &token, &body(i)).await.map(|_| ()) }
    })
    .await
}

pub(crate) async fn growth(database_url: String, steps: Vec<usize>, requests: usize) -> anyhow::Result<()> {
    let env = start(Some(database_url), 1).await?;
    if env.database.backend != "PostgreSQL" {
        bail!("the growth scenario runs on PostgreSQL (pass a postgres:// --database-url)");
    }
    let first = *steps.first().context("at least one size")?;
    let started = Instant::now();
    seed_conversations(&env, first).await?;
    seed_messages(&env, 10).await?;
    let mut have = first;
    let (page, variables) = desktop_inbox_without_counts();
    println!(
        "growth on PostgreSQL, {}, 1 client, {requests} requests per measure",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    println!(
        "{:>12} {:>9} {:>13} {:>13} {:>13} {:>13} {:>14}",
        "conversations",
        "seeded s",
        "inbox p50 ms",
        "inbox p99 ms",
        "@user p50 ms",
        "@user p99 ms",
        "counts read ms"
    );
    for size in steps {
        if size > have {
            let from = i64::try_from(have)?;
            let to = i64::try_from(size)?;
            // Secondary indexes are built once after the rows are in (PostgreSQL builds a
            // GIN or B-tree index over millions of rows far faster than it maintains one row
            // by row); the unique ones stay, for the keys the messages are found by.
            let rebuilt = drop_secondary_indexes(&env).await?;
            let mut at = from;
            while at < to {
                let end = (at + 1_000_000).min(to);
                // A million rows a statement (and their messages): each well inside the pool's
                // statement timeout.
                execute(&env, GROW, vec![at.into(), end.into()]).await?;
                execute(&env, GROW_MESSAGES, vec![at.into(), end.into()]).await?;
                at = end;
            }
            for definition in rebuilt {
                // The settings hold for this build's transaction only.
                let build = format!(
                    "BEGIN; SET LOCAL maintenance_work_mem = '1GB'; SET LOCAL statement_timeout = 0; \
                     {definition}; COMMIT"
                );
                env.db.conn().execute_unprepared(&build).await?;
            }
            crate::seed::settle(&env.db).await?;
            have = size;
        }
        let seeded = started.elapsed().as_secs_f64();
        let body = json!({ "query": page, "variables": variables });
        let inbox = measure(&env, requests, move |_| body.clone()).await?;
        let query = "query($s: String) { conversations(first: 20, filter: { search: $s }) { nodes { id displayName customer { username } } } }";
        let search = measure(
            &env,
            requests,
            move |i| json!({ "query": query, "variables": { "s": format!("@ana_{}", (i * 37) % 10_000) } }),
        )
        .await?;
        // One read of the counts on the bench's own pool: the server would answer from its
        // cache, which this process's seeding (another process's commits) does not invalidate.
        let counted = Instant::now();
        let counts = persistence::reads::inbox_counts(env.db.conn(), env.workspace, env.admin).await?;
        let counts_ms = counted.elapsed().as_secs_f64() * 1_000.0;
        let largest = sizes(&env).await?;
        println!(
            "{size:>12} {seeded:>9.0} {:>13.2} {:>13.2} {:>13.2} {:>13.2} {counts_ms:>14.0}",
            inbox.ms(0.5),
            inbox.ms(0.99),
            search.ms(0.5),
            search.ms(0.99)
        );
        println!(
            "{}",
            json!({
                "scenario": "growth", "conversations": size, "inbox_p50_ms": inbox.ms(0.5), "inbox_p99_ms": inbox.ms(0.99),
                "username_search_p50_ms": search.ms(0.5), "username_search_p99_ms": search.ms(0.99),
                "inbox_counts_read_ms": counts_ms, "open": counts.open, "unread": counts.unread, "largest": largest,
            })
        );
    }
    env.finish().await?;
    Ok(())
}
