//! The `inbox` scenario.

use std::time::Instant;

use anyhow::bail;
use serde_json::json;

use crate::harness::{Env, drive, graphql, peak_rss_mb, print_table, start, typename_baseline};
use crate::seed::{seed_conversations, seed_messages};

/// The desktop's own inbox document (`web/graphql/Inbox.graphql`) with the fragments it uses,
/// built as the page builds it (`web/js/documents.js`), and the variables of its default view.
pub(crate) fn desktop_inbox() -> (String, serde_json::Value) {
    let variables = json!({ "first": 50, "after": null, "filter": { "status": "OPEN" } });
    (with_fragments(INBOX_DOCUMENT), variables)
}

const INBOX_DOCUMENT: &str = include_str!("../../../web/graphql/Inbox.graphql");

/// How the desktop's document asks for the counts beside the views.
const COUNTS: &str = "  inboxCounts {\n    ...Counts\n  }\n";

/// The desktop's inbox document without `inboxCounts` (the list alone), and its variables.
pub(crate) fn desktop_inbox_without_counts() -> (String, serde_json::Value) {
    let (_, variables) = desktop_inbox();
    (with_fragments(&INBOX_DOCUMENT.replace(COUNTS, "")), variables)
}

/// `operation` and every fragment of `web/graphql/fragments.graphql` it spreads, directly or
/// through another fragment.
fn with_fragments(operation: &str) -> String {
    let fragments = parse_fragments(include_str!("../../../web/graphql/fragments.graphql"));
    let mut needed: Vec<&str> = Vec::new();
    let mut pending = vec![operation];
    while let Some(text) = pending.pop() {
        for (at, _) in text.match_indices("...") {
            let name: String = text[at + 3..]
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name == "on" || needed.iter().any(|n| *n == name) {
                continue;
            }
            if let Some((known, source)) = fragments.iter().find(|(n, _)| *n == name) {
                needed.push(known);
                pending.push(source);
            }
        }
    }
    let mut document = operation.trim().to_owned();
    for name in needed {
        if let Some((_, source)) = fragments.iter().find(|(n, _)| *n == name) {
            document.push_str("\n\n");
            document.push_str(source);
        }
    }
    document
}

/// `fragment Name on Type { … }` blocks of a file, by name.
fn parse_fragments(source: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = 0;
    while let Some(at) = source[rest..].find("fragment ").map(|i| i + rest) {
        let name = source[at + 9..].split_whitespace().next().unwrap_or_default();
        let open = source[at..].find('{').map_or(source.len(), |i| i + at);
        let mut depth = 0;
        let mut end = source.len();
        for (i, c) in source[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        found.push((name, &source[at..end]));
        rest = end;
    }
    found
}

/// The page of the last pass: what a list shows, capabilities included (kept for comparison).
pub(crate) const INBOX_PAGE: &str = "{ conversations(first: 50) { nodes { id displayName status origin lastInboundAt unreadCount lastReadAt \
    labels { id name color } team { id name members { id name } } assignee { id name } \
    customer { phoneNumber bsuid username profileName phoneHidden notice } contact { id name } \
    capabilities { reply { allowed reason } call { allowed reason } switchToSms { allowed reason } \
    requestPhoneNumber { allowed reason } templates { category allowed reason } } \
    lastMessage { text direction status createdAt } } } }";

/// The agent has read every other conversation of the first page (so the page's unread counts
/// mix markers and none).
async fn mark_half_read(env: &Env) -> anyhow::Result<()> {
    let filter = persistence::inbox::ConversationFilter::default();
    let page = persistence::inbox::list(env.db.conn(), env.workspace, &filter, None, 50).await?;
    let now = chrono::Utc::now();
    for conversation in page.iter().step_by(2) {
        persistence::reads::mark(env.db.conn(), conversation, env.admin, now, None, now).await?;
    }
    Ok(())
}

/// Three labels and two teams (the admin in each); each conversation of the first page
/// carries one to three labels, and two in three are routed to a team and assigned.
async fn label_and_route(env: &Env) -> anyhow::Result<()> {
    let db = env.db.conn();
    let now = chrono::Utc::now();
    let mut labels = Vec::new();
    for name in ["Billing", "VIP", "Urgent"] {
        let new = persistence::labels::NewLabel { workspace_id: env.workspace, name, color: "#336699" };
        labels.push(persistence::labels::create(db, new, now).await?.id);
    }
    let mut teams = Vec::new();
    for name in ["Support", "Sales"] {
        let team = persistence::teams::create(db, env.workspace, name, now).await?;
        env.db.write(async |txn| persistence::teams::add_member(txn, &team, env.admin, now).await).await?;
        teams.push(team.id);
    }
    let filter = persistence::inbox::ConversationFilter::default();
    let page = persistence::inbox::list(db, env.workspace, &filter, None, 50).await?;
    for (i, conversation) in page.into_iter().enumerate() {
        for label in labels.iter().take(1 + i % 3) {
            persistence::labels::add_to(db, env.workspace, conversation.id, *label, now).await?;
        }
        if i % 3 != 0 {
            let change = persistence::conversations::ConversationChange {
                assignee: Some(Some(env.admin)),
                team: Some(Some(teams[i % 2])),
                ..Default::default()
            };
            env.db
                .write(async |txn| persistence::conversations::update(txn, conversation, change, now).await)
                .await?;
        }
    }
    Ok(())
}

/// SQL statements one inbox page of the desktop costs, counted in-process on the bench's own
/// pool.
pub(crate) async fn statements_per_page(env: &Env, first: usize) -> anyhow::Result<u64> {
    let schema =
        api::graphql::schema_builder(&api::config::GraphqlConfig::default()).data(env.db.clone()).finish();
    let viewer =
        api::auth::Viewer { agent_id: env.admin, workspace_id: env.workspace, role: domain::Role::Admin };
    let (query, mut variables) = desktop_inbox();
    variables["first"] = json!(first);
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables))
        .data(api::graphql::context::RequestData { viewer: Some(viewer), now: chrono::Utc::now() })
        .data(api::graphql::loaders::for_viewer(env.db.clone(), env.workspace, env.admin));
    let before = env.db.statement_count();
    let response = schema.execute(request).await;
    if !response.errors.is_empty() {
        bail!("inbox page failed: {:?}", response.errors);
    }
    // Plus the one statement that authenticates the request on the server.
    Ok(env.db.statement_count() - before + 1)
}

pub(crate) async fn inbox(
    database_url: Option<String>,
    conversations: usize,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let env = start(database_url, concurrency).await?;
    let seeded = Instant::now();
    seed_conversations(&env, conversations).await?;
    seed_messages(&env, 10).await?;
    mark_half_read(&env).await?;
    label_and_route(&env).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let small = statements_per_page(&env, 5).await?;
    let full = statements_per_page(&env, 50).await?;
    let url = format!("{}/graphql", env.base);
    let baseline = typename_baseline(&env, requests, concurrency).await?;
    let page = |body: serde_json::Value| {
        let (client, token, url) = (env.client.clone(), env.token.clone(), url.clone());
        drive(requests, concurrency, move |_| {
            let (client, token, url, body) = (client.clone(), token.clone(), url.clone(), body.clone());
            async move { graphql(&client, &url, &token, &body).await.map(|_| ()) }
        })
    };
    let (document, variables) = desktop_inbox();
    let run = page(json!({ "query": document, "variables": variables })).await?;
    // What the counts beside the views cost, and the heavier page of the last pass (with
    // capabilities and the customer's details), same run.
    if !INBOX_DOCUMENT.contains(COUNTS) {
        bail!("web/graphql/Inbox.graphql no longer asks for inboxCounts as this scenario expects");
    }
    let (without_counts, _) = desktop_inbox_without_counts();
    let uncounted = page(json!({ "query": without_counts, "variables": variables })).await?;
    let last_pass = page(json!({ "query": INBOX_PAGE })).await?;
    let rss = peak_rss_mb(env.pid);
    let backend = env.database.backend;
    env.finish().await?;
    let ratio = run.throughput() / baseline.throughput();
    let title = format!(
        "inbox on {}, {conversations} conversations × 10 messages (seeded in {seed_secs:.0} s), the desktop's first page of 50 (web/graphql/Inbox.graphql), {concurrency} clients, {}; SQL statements per page: {small} for 5 rows, {full} for 50",
        backend,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let line = json!({
        "scenario": "inbox", "backend": backend, "conversations": conversations, "requests": requests, "concurrency": concurrency,
        "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss, "statements_per_page_5": small, "statements_per_page_50": full,
        "without_counts_throughput": uncounted.throughput(), "without_counts_p50_ms": uncounted.ms(0.5),
        "without_counts_p99_ms": uncounted.ms(0.99),
        "last_pass_page_throughput": last_pass.throughput(), "last_pass_page_p99_ms": last_pass.ms(0.99),
    });
    print_table(
        &title,
        &[
            ("desktop inbox page (50)", &run),
            ("same, without inboxCounts", &uncounted),
            ("last pass's page (50)", &last_pass),
            ("baseline: { __typename }", &baseline),
        ],
        ratio,
        rss,
        line,
    );
    Ok(())
}
