//! The service window as events (PRODUCT.md section 15): `conversation.window_closing` once per
//! window at the workspace's warning (at once when less is left), `conversation.window_closed`
//! once when it ends, neither when the agent wrote last, a new window for a new message,
//! `conversation.capabilities_changed` when it closes, and each once across processes. The
//! tests drive the worker's pass with their own clock.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{Backend, Inbound, Tenant, TestApp, other_process_db, spawn, value};

async fn pass(app: &TestApp, at: DateTime<Utc>) {
    api::workflow::windows::close_and_warn(&app.db, at).await.unwrap();
}

/// The events of `kind` about conversation `c`.
async fn of(app: &TestApp, t: &Tenant, kind: &str, c: &str) -> Vec<Value> {
    let query = "query($t: [String!]) { events(first: 100, types: $t) { nodes { conversationId payload } } }";
    let data = app.ok(&t.token, query, json!({ "t": [kind] })).await;
    data["events"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["conversationId"] == c)
        .map(|e| e["payload"]["data"].clone())
        .collect()
}

async fn counts(app: &TestApp, t: &Tenant, c: &str) -> (usize, usize, usize) {
    (
        of(app, t, "conversation.window_closing", c).await.len(),
        of(app, t, "conversation.window_closed", c).await.len(),
        of(app, t, "conversation.capabilities_changed", c).await.len(),
    )
}

async fn a_window_warns_once_closes_once_and_a_new_message_opens_another(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    let base = Utc::now();
    let hour = Duration::hours(1);
    let waiting =
        app.receive(&t, &Inbound::hidden("US.1", "@waiting", "Waiting").ago(hour)).await.to_string();
    let answered = app.receive(&t, &Inbound::with_phone("16505550002", "US.2", "Answered").ago(hour)).await;
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"On it\") { id } }";
    app.ok(&t.token, send, json!({ "c": answered.to_string() })).await;
    let answered = answered.to_string();
    let late = app
        .receive(&t, &Inbound::hidden("US.3", "@late", "Late").ago(Duration::minutes(23 * 60 + 30)))
        .await
        .to_string();

    // Less than the warning left: warned at once, with the minutes left.
    pass(&app, base).await;
    let warned = of(&app, &t, "conversation.window_closing", &late).await;
    assert_eq!(warned.len(), 1);
    assert!((28..=30).contains(&warned[0]["minutesLeft"].as_i64().unwrap()), "{warned:?}");
    assert_eq!(counts(&app, &t, &waiting).await, (0, 0, 0));

    pass(&app, base + hour * 21).await;
    assert_eq!(counts(&app, &t, &waiting).await, (0, 0, 0), "not before the warning");
    for _ in 0..2 {
        pass(&app, base + hour * 22 + Duration::minutes(1)).await;
        assert_eq!(counts(&app, &t, &waiting).await, (1, 0, 0));
        assert_eq!(counts(&app, &t, &answered).await, (0, 0, 0), "the agent wrote last");
    }
    let closing = &of(&app, &t, "conversation.window_closing", &waiting).await[0];
    let sent = DateTime::parse_from_rfc3339(closing["lastInboundAt"].as_str().unwrap()).unwrap();
    let ends = DateTime::parse_from_rfc3339(closing["serviceWindowEndsAt"].as_str().unwrap()).unwrap();
    assert_eq!(ends - sent, Duration::hours(24));

    for _ in 0..2 {
        pass(&app, base + hour * 23 + Duration::minutes(1)).await;
        assert_eq!(counts(&app, &t, &waiting).await, (1, 1, 1));
        assert_eq!(counts(&app, &t, &answered).await, (0, 0, 1), "capabilities change whoever wrote last");
    }
    let changed = &of(&app, &t, "conversation.capabilities_changed", &waiting).await[0];
    assert_eq!(changed["cause"], "window_closed");
    assert_eq!(changed["before"]["reply"], json!({ "allowed": true, "reason": null, "reasonCode": null }));
    assert_eq!(changed["after"]["reply"]["allowed"], false);
    assert_eq!(changed["after"]["reply"]["reasonCode"], "WINDOW_CLOSED");
    assert_eq!(changed["after"]["templates"][0]["allowed"], true, "marketing templates stay allowed");

    // The customer writes again: a new window, with events of its own.
    app.receive(&t, &Inbound::hidden("US.1", "@waiting", "Waiting").fresh_id()).await;
    pass(&app, base + hour * 23 + Duration::minutes(2)).await;
    assert_eq!(counts(&app, &t, &waiting).await, (2, 1, 1));
    pass(&app, base + hour * 25).await;
    assert_eq!(counts(&app, &t, &waiting).await, (2, 2, 2));
}

async fn the_warning_follows_the_workspace_setting(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let early = app.tenant("Early").await;
    let usual = app.tenant("Usual").await;
    let update =
        "mutation { updateWorkspaceSettings(input: { windowWarningMinutes: 180 }) { windowWarningMinutes } }";
    app.ok(&early.token, update, json!({})).await;
    let base = Utc::now();
    let ago = Duration::hours(1);
    let a = app.receive(&early, &Inbound::hidden("US.1", "@a", "A").ago(ago)).await.to_string();
    let b = app.receive(&usual, &Inbound::hidden("US.2", "@b", "B").ago(ago)).await.to_string();
    pass(&app, base + Duration::hours(20) + Duration::minutes(1)).await;
    assert_eq!((counts(&app, &early, &a).await.0, counts(&app, &usual, &b).await.0), (1, 0));
    let warned = &of(&app, &early, "conversation.window_closing", &a).await[0];
    // WhatsApp's timestamps are whole seconds: up to a minute less than 180 is left.
    assert!((178..=179).contains(&warned["minutesLeft"].as_i64().unwrap()), "{warned}");
    pass(&app, base + Duration::hours(22) + Duration::minutes(1)).await;
    assert_eq!((counts(&app, &early, &a).await.0, counts(&app, &usual, &b).await.0), (1, 1));
}

/// Two server processes (and the test) claim the same windows at once: each event once.
async fn each_window_event_is_written_once_across_processes(backend: Backend) {
    let Some(app) = spawn(backend).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let peer = other_process_db(&app, |_| {}).await;
    let t = app.tenant("Acme").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let customer = Inbound::hidden(&format!("US.7{i}"), &format!("@c{i}"), "C").ago(Duration::hours(2));
        ids.push(app.receive(&t, &customer).await.to_string());
    }
    let base = Utc::now();
    for at in
        [base + Duration::hours(21) + Duration::minutes(1), base + Duration::hours(22) + Duration::minutes(1)]
    {
        let racers: Vec<_> = [app.db.clone(), peer.clone(), app.db.clone(), peer.clone()]
            .into_iter()
            .map(|db| {
                tokio::spawn(async move { api::workflow::windows::close_and_warn(&db, at).await.unwrap() })
            })
            .collect();
        for racer in racers {
            racer.await.unwrap();
        }
    }
    for id in &ids {
        assert_eq!(counts(&app, &t, id).await, (1, 1, 1), "{id}");
    }
}

/// PostgreSQL: the worker finds when the next warning or closing is due by walking an index from
/// its earliest entry, not by reading the table. A warning's query names the workspaces of a
/// warning setting (a semi-join), and as a `MIN()` over that join it read every conversation of
/// the database (a parallel sequential scan) at every pass: once a second while windows close,
/// 220 ms each at 1,000,000 conversations. The due time is the one `MIN()` gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_due_window_is_found_without_reading_every_conversation() {
    use sea_orm::ConnectionTrait;
    let Some(app) = spawn(Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    let t = app.tenant("Acme").await;
    app.receive(&t, &Inbound::hidden("US.1", "@first", "First").ago(Duration::hours(20))).await;
    let conn = app.db.conn();
    // 20,000 more open windows, copies of that one spread over an hour, a tenth of them warned.
    conn.execute_unprepared(
        "CREATE TEMP TABLE copies AS SELECT c.* FROM conversations c, generate_series(1, 20000); \
         UPDATE copies SET id = gen_random_uuid(); \
         UPDATE copies SET key_value = id::text, customer_bsuid = NULL, \
             last_inbound_at = last_inbound_at + random() * interval '1 hour'; \
         UPDATE copies SET window_warned_for = last_inbound_at WHERE random() < 0.1; \
         INSERT INTO conversations SELECT * FROM copies; DROP TABLE copies; ANALYZE conversations",
    )
    .await
    .unwrap();
    let min = |extra: &str| {
        format!(
            "SELECT MIN(last_inbound_at) + interval '24 hours'{extra} FROM conversations \
             WHERE status = 'OPEN' AND window_closed_for IS NULL"
        )
    };
    let (closes, warns) = (min(""), min(" - interval '60 minutes'") + " AND window_warned_for IS NULL");
    let expected: DateTime<Utc> = value(conn, &format!("SELECT LEAST(({closes}), ({warns})) AS v")).await;

    let (due, scans) = crate::helpers::xact_growth(conn, "seq_scan", "conversations", async |txn| {
        persistence::windows::next_due(txn).await.unwrap().expect("open windows are due")
    })
    .await;
    assert_eq!(scans, 0, "finding the next due window read the conversations table from end to end");
    assert_eq!(due, expected);
}

on_both_backends!(
    a_window_warns_once_closes_once_and_a_new_message_opens_another,
    the_warning_follows_the_workspace_setting,
    each_window_event_is_written_once_across_processes,
);
