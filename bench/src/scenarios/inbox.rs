//! The `inbox` scenario.

use std::time::Instant;

use anyhow::bail;
use serde_json::json;

use crate::harness::{Env, drive, graphql, peak_rss_mb, print_table, start, typename_baseline};
use crate::seed::{seed_conversations, seed_messages};

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

/// What labels, teams and assignment the page shows.
const LABELS_AND_TEAM: &str =
    " labels { id name color } team { id name members { id name } } assignee { id name }";

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
        persistence::teams::add_member(db, &team, env.admin, now).await?;
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

/// SQL statements one inbox page costs, counted in-process on the bench's own pool.
pub(crate) async fn statements_per_page(env: &Env, first: usize) -> anyhow::Result<u64> {
    let schema =
        api::graphql::schema_builder(&api::config::GraphqlConfig::default()).data(env.db.clone()).finish();
    let viewer =
        api::auth::Viewer { agent_id: env.admin, workspace_id: env.workspace, role: domain::Role::Admin };
    let query = INBOX_PAGE.replace("first: 50", &format!("first: {first}"));
    let request = async_graphql::Request::new(query)
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
    let mut env = start(database_url, concurrency).await?;
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
    let page = |query: String| {
        let (client, token, url) = (env.client.clone(), env.token.clone(), url.clone());
        drive(requests, concurrency, move |_| {
            let (client, token, url, query) = (client.clone(), token.clone(), url.clone(), query.clone());
            async move { graphql(&client, &url, &token, &json!({ "query": query })).await.map(|_| ()) }
        })
    };
    let run = page(INBOX_PAGE.to_owned()).await?;
    // The same page without the viewer's read state, and without labels and team: what each
    // costs, same run.
    let unread_free = page(INBOX_PAGE.replace(" unreadCount lastReadAt", "")).await?;
    let unlabelled = page(INBOX_PAGE.replace(LABELS_AND_TEAM, "")).await?;
    let rss = peak_rss_mb(env.pid);
    env.child.kill().await.ok();
    let ratio = run.throughput() / baseline.throughput();
    let title = format!(
        "inbox on {}, {conversations} conversations × 10 messages (seeded in {seed_secs:.0} s), first page of 50, {concurrency} clients, {}; SQL statements per page: {small} for 5 rows, {full} for 50",
        env.backend,
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let line = json!({
        "scenario": "inbox", "backend": env.backend, "conversations": conversations, "requests": requests, "concurrency": concurrency,
        "throughput": run.throughput(), "p50_ms": run.ms(0.5), "p99_ms": run.ms(0.99), "p999_ms": run.ms(0.999),
        "baseline_throughput": baseline.throughput(), "baseline_p50_ms": baseline.ms(0.5), "baseline_p99_ms": baseline.ms(0.99),
        "ratio": ratio, "server_peak_rss_mb": rss, "statements_per_page_5": small, "statements_per_page_50": full,
        "without_read_state_throughput": unread_free.throughput(), "without_read_state_p50_ms": unread_free.ms(0.5),
        "without_read_state_p99_ms": unread_free.ms(0.99), "read_state_ratio": run.throughput() / unread_free.throughput(),
        "without_labels_and_team_throughput": unlabelled.throughput(),
        "labels_and_team_ratio": run.throughput() / unlabelled.throughput(),
    });
    print_table(
        &title,
        &[
            ("inbox page (50)", &run),
            ("same page, no unreadCount", &unread_free),
            ("same page, no labels/team", &unlabelled),
            ("baseline: { __typename }", &baseline),
        ],
        ratio,
        rss,
        line,
    );
    Ok(())
}
