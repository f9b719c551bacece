//! The `routing` scenario: how long the router takes to assign one conversation when a member
//! frees room, with N conversations waiting in the team's queue and M members at capacity
//! (PRODUCT.md section 18). Run in-process against the database (no server): each iteration
//! resolves one conversation of the next member (not timed), then times one routing pass
//! (`api::workflow::routing::route_due`), which must assign exactly the oldest waiting
//! conversation to that member. The same run times a pass with nobody's room (the queue stays)
//! and, as the baseline, a write transaction of one primary-key read.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::Utc;
use domain::threading::ThreadKey;
use domain::{Availability, ConversationStatus, RoutingMode};
use persistence::conversations::{ConversationChange, CustomerFacts, NewConversation};
use persistence::inbox::ConversationFilter;

use crate::harness::{Run, fresh_database, histogram, print_table};

pub(crate) async fn routing(
    database_url: Option<String>,
    waiting: usize,
    agents: usize,
    capacity: i32,
    passes: usize,
) -> anyhow::Result<()> {
    let database = fresh_database(database_url).await?;
    let (url, backend) = (database.url.clone(), database.backend);
    let pool =
        persistence::PoolSettings { statement_timeout: Duration::from_secs(600), ..Default::default() };
    let db = api::startup::connect_and_migrate(&url, &pool).await?;
    let input = api::setup::workspaces::BootstrapInput {
        workspace_name: "Routing".into(),
        admin_email: "routing@example.com".into(),
        admin_name: "Routing".into(),
        business_number: Some(api::setup::workspaces::BusinessNumberInput {
            phone_number_id: "106540352242922".into(),
            display_phone_number: "15550783881".into(),
            waba_id: "102290129340398".into(),
            portfolio_id: "506914307656634".into(),
            business_name: None,
        }),
    };
    let now = Utc::now();
    let created = api::setup::workspaces::bootstrap(&db, &input, now)
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap: {}", e.message()))?;
    let (workspace, number) = (created.workspace_id, created.business_number_id.context("number")?);

    // The team, its members (online and present for the whole run), each at capacity.
    let team = persistence::teams::create(db.conn(), workspace, "Support", now).await?;
    let change = persistence::teams::TeamChange {
        routing: Some((RoutingMode::RoundRobin, Some(capacity))),
        ..Default::default()
    };
    let team = db.write(async |txn| persistence::teams::update(txn, team, change).await).await?;
    let mut members = Vec::with_capacity(agents);
    for i in 0..agents {
        let email = domain::Email::parse(&format!("agent{i}@example.com"))?;
        let new = persistence::agents::NewAgent {
            id: domain::AgentId::new(),
            workspace_id: workspace,
            email: &email,
            name: &format!("Agent {i}"),
            role: domain::Role::Agent,
        };
        let agent = db.write(async |txn| persistence::agents::create(txn, new, now).await).await?;
        let present = Some(now + chrono::Duration::days(1));
        db.write(async |txn| {
            persistence::teams::add_member(txn, &team, agent.id, now).await?;
            persistence::routing::set_availability(txn, workspace, agent.id, Availability::Online, present)
                .await
        })
        .await?;
        members.push(agent.id);
    }
    let assigned = members.len() * usize::try_from(capacity)?;
    let mut batch = Vec::with_capacity(1000);
    for i in 0..assigned + waiting {
        let bsuid = domain::Bsuid::parse(&format!("US.{}", 300_000_000 + i))?;
        // The assigned ones are the oldest; the queue after them, oldest first.
        let at = now - chrono::Duration::seconds(i64::try_from(assigned + waiting - i)?);
        batch.push(NewConversation {
            workspace_id: workspace,
            business_number_id: number,
            channel: domain::Channel::Whatsapp,
            key: ThreadKey::Bsuid(bsuid.clone()),
            customer: CustomerFacts { bsuid: Some(bsuid), ..CustomerFacts::default() },
            origin: domain::ThreadOrigin::FirstContact,
            previous: None,
            last_inbound_at: Some(at),
            inbound_stored_at: None,
            last_activity_at: at,
            assignee: (i < assigned).then(|| members[i % members.len()]),
            team: Some(team.id),
            link: None,
            sms_opted_out: false,
        });
        if batch.len() == 1000 || i + 1 == assigned + waiting {
            persistence::conversations::insert_many(db.conn(), std::mem::take(&mut batch)).await?;
        }
    }
    persistence::windows::settle_ended(db.conn(), Utc::now()).await?;
    crate::seed::settle(&db).await?;

    // Nobody has room: a pass that assigns nothing (what every commit that wakes the router costs
    // while the team is full).
    let mut full = histogram()?;
    let started = Instant::now();
    for _ in 0..passes {
        let t = Instant::now();
        let done = api::workflow::routing::route_due(&db, Utc::now()).await?;
        anyhow::ensure!(done == 0, "a full team assigned {done}");
        full.record(u64::try_from(t.elapsed().as_micros())?.max(1))?;
    }
    let full = Run { requests: passes, elapsed: started.elapsed(), latencies: full };

    // One member resolves one conversation: the next pass gives them the oldest waiting one.
    let mut decide = histogram()?;
    let mut timed = Duration::ZERO;
    for i in 0..passes {
        let agent = members[i % members.len()];
        let filter = ConversationFilter {
            assignee: Some(agent),
            status: Some(ConversationStatus::Open),
            ..Default::default()
        };
        let mine = persistence::inbox::list(db.conn(), workspace, &filter, None, 1).await?;
        let one = mine.into_iter().next().context("a member's open conversation")?;
        db.write(async |txn| {
            let change =
                ConversationChange { status: Some(ConversationStatus::Resolved), ..Default::default() };
            persistence::conversations::update(txn, one, change, Utc::now()).await
        })
        .await?;
        let t = Instant::now();
        let done = api::workflow::routing::route_due(&db, Utc::now()).await?;
        let took = t.elapsed();
        anyhow::ensure!(done == 1, "one room, {done} assignments");
        timed += took;
        decide.record(u64::try_from(took.as_micros())?.max(1))?;
    }
    let decide = Run { requests: passes, elapsed: timed, latencies: decide };

    // Baseline: a write transaction of one primary-key read (the workspace's settings).
    let mut empty = histogram()?;
    let started = Instant::now();
    for _ in 0..passes {
        let t = Instant::now();
        db.write(async |txn| persistence::settings::of(txn, workspace).await).await?;
        empty.record(u64::try_from(t.elapsed().as_micros())?.max(1))?;
    }
    let empty = Run { requests: passes, elapsed: started.elapsed(), latencies: empty };

    let ratio = decide.throughput() / empty.throughput();
    let title = format!(
        "routing on {backend}, {waiting} waiting conversations, {agents} members at capacity {capacity}, {passes} passes, {}",
        Utc::now().format("%Y-%m-%d")
    );
    let line = serde_json::json!({
        "scenario": "routing", "backend": backend, "waiting": waiting, "agents": agents, "capacity": capacity,
        "passes": passes, "decision_p50_ms": decide.ms(0.5), "decision_p99_ms": decide.ms(0.99),
        "full_p50_ms": full.ms(0.5), "full_p99_ms": full.ms(0.99),
        "baseline_p50_ms": empty.ms(0.5), "baseline_p99_ms": empty.ms(0.99), "ratio": ratio,
    });
    print_table(
        &title,
        &[
            ("route one (room freed)", &decide),
            ("pass, team full", &full),
            ("baseline: one-read write", &empty),
        ],
        ratio,
        0.0,
        line,
    );
    db.close().await?;
    database.remove().await
}
