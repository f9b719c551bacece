//! Background work starts promptly although idle workers sleep: a message sent, a CRM event,
//! an inbound file and a snooze that ends are picked up within 100 ms of the commit (or the due
//! time) that makes them ready, on SQLite and PostgreSQL, and, on PostgreSQL, also when another
//! process committed them (`LISTEN/NOTIFY`). The idle half (an idle server does nothing) runs
//! the real binary in its own process: `api/tests/idle.rs`.

use std::time::{Duration, Instant};

use chrono::Utc;
use domain::{ConversationId, Direction, MessageStatus};
use serde_json::{Value, json};

use crate::helpers::{
    Backend, FAKE_TOKEN, FakeMedia, FakeProvider, Inbound, Recorded, Tenant, TestApp, fixtures,
};
use crate::media::{file_bytes, media_webhook, sha256_base64};

/// How soon ready work must start.
const PROMPT: Duration = Duration::from_millis(100);

/// Longer than any wake-up chain, shorter than the workers' safety poll (5 s): work picked up
/// after this wait was woken for, not found by a poll.
const SETTLE: Duration = Duration::from_millis(1500);

struct Setup {
    app: TestApp,
    fake: FakeProvider,
    t: Tenant,
}

async fn setup(backend: Backend) -> Option<Setup> {
    let fake = FakeProvider::start().await;
    let url = fake.url.clone();
    let app = crate::helpers::spawn_with(backend, move |config| {
        config.whatsapp.api_base = url;
        config.whatsapp.access_token = Some(FAKE_TOKEN.to_owned().into());
        config.dispatch.allow_private_targets = true;
    })
    .await?;
    let t = app.tenant("Acme").await;
    Some(Setup { app, fake, t })
}

/// Waits (up to 5 s) for the first request to the fake that `matches`, made after `since`.
async fn first_request(fake: &FakeProvider, since: Instant, matches: impl Fn(&Recorded) -> bool) -> Recorded {
    for _ in 0..500 {
        if let Some(r) = fake.requests().into_iter().find(|r| r.at >= since && matches(r)) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "no matching request reached the fake: {:?}",
        fake.requests().iter().map(|r| &r.path).collect::<Vec<_>>()
    );
}

fn assert_prompt(what: &str, ready: Instant, picked: Instant) {
    let after = picked.saturating_duration_since(ready);
    assert!(after <= PROMPT, "{what} started {after:?} after it was ready");
}

async fn crm_endpoint(s: &Setup) {
    let create = "mutation($i: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }";
    let url = format!("{}/crm/hooks", s.fake.url);
    s.app.ok(&s.t.token, create, json!({ "i": { "url": url, "eventTypes": ["message.sent"] } })).await;
}

async fn sends_events_files_and_snoozes_start_within_100_ms(s: Setup) {
    crm_endpoint(&s).await;
    let conversation = s.app.receive(&s.t, &Inbound::hidden("US.1", "@ana", "Ana")).await;
    tokio::time::sleep(SETTLE).await;

    // A reply: the delivery worker sends it, and its `message.sent` reaches the CRM.
    let send = "mutation($c: ID!) { sendMessage(conversationId: $c, text: \"Hola\") { id } }";
    let committed = Instant::now();
    s.app.ok(&s.t.token, send, json!({ "c": conversation.to_string() })).await;
    let sent = first_request(&s.fake, committed, |r| r.path.ends_with("/messages")).await;
    assert_prompt("a send", committed, sent.at);
    let event = first_request(&s.fake, committed, |r| r.path == "/crm/hooks").await;
    assert_prompt("a CRM delivery", committed, event.at);
    tokio::time::sleep(SETTLE).await;

    // A customer's photo: the media fetcher asks for it.
    let photo = file_bytes(1000, 3);
    let media =
        FakeMedia { mime_type: "image/jpeg".into(), file_name: None, bytes: photo.clone(), sha256: None };
    s.fake.host_media("9001", media);
    let object = json!({ "id": "9001", "mime_type": "image/jpeg", "sha256": sha256_base64(&photo) });
    let webhook = media_webhook(&s.t, &Inbound::hidden("US.2", "@bo", "Bo"), "image", object);
    let committed = Instant::now();
    let (status, _) = s.app.post_webhook(&webhook).await;
    assert_eq!(status, 200);
    let fetched = first_request(&s.fake, committed, |r| r.path == "/9001").await;
    assert_prompt("a media fetch", committed, fetched.at);

    // A snooze: the conversation reopens at its time.
    let snooze =
        "mutation($c: ID!, $u: DateTime!) { snoozeConversation(conversationId: $c, until: $u) { id } }";
    let until = Utc::now() + chrono::Duration::milliseconds(1200);
    s.app.ok(&s.t.token, snooze, json!({ "c": conversation.to_string(), "u": until.to_rfc3339() })).await;
    let reopened = reopened_at(&s, conversation).await;
    let late = (reopened - until).to_std().unwrap_or(Duration::ZERO);
    assert!(late <= PROMPT, "a snooze ended {late:?} after its time");
}

/// When the conversation was reopened (its `updatedAt` once it is `OPEN` again).
async fn reopened_at(s: &Setup, conversation: ConversationId) -> chrono::DateTime<Utc> {
    let query = "query($c: ID!) { conversation(id: $c) { status updatedAt } }";
    for _ in 0..300 {
        let data = s.app.ok(&s.t.token, query, json!({ "c": conversation.to_string() })).await;
        if data["conversation"]["status"] == "OPEN" {
            let at = data["conversation"]["updatedAt"].as_str().unwrap();
            return chrono::DateTime::parse_from_rfc3339(at).unwrap().with_timezone(&Utc);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the snoozed conversation never reopened");
}

/// PostgreSQL: work committed by another process (here a bare connection of the test's own,
/// which runs no worker and shares no memory with the server) wakes the server's workers by
/// `NOTIFY`: an outbound message queued there is sent, and an event written there reaches the
/// CRM, each within 100 ms of that commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_committed_by_another_process_starts_within_100_ms() {
    let Some(s) = setup(Backend::Postgres).await else {
        return crate::helpers::postgres_skipped(module_path!());
    };
    crm_endpoint(&s).await;
    let conversation = s.app.receive(&s.t, &Inbound::hidden("US.1", "@ana", "Ana")).await;
    let other = persistence::Database::connect(&s.app.database_url, &persistence::PoolSettings::default())
        .await
        .unwrap();
    let row =
        persistence::conversations::find(other.conn(), s.t.workspace, conversation).await.unwrap().unwrap();
    tokio::time::sleep(SETTLE).await;

    let (thread, mut queued) = fixtures::imported_message(
        (&row).into(),
        Direction::Outbound,
        MessageStatus::Pending,
        None,
        "Hola",
        Utc::now(),
    );
    let text = domain::content::OutboundContent::Text { body: "Hola".into() };
    queued.content = Some(persistence::content::MessageContent::Outbound(text));
    other
        .write(async |txn| persistence::messages::insert_many(txn, vec![(thread, queued)]).await)
        .await
        .unwrap();
    let committed = Instant::now();
    let sent = first_request(&s.fake, committed - PROMPT, |r| r.path.ends_with("/messages")).await;
    assert_prompt("a send queued by another process", committed, sent.at);
    tokio::time::sleep(SETTLE).await;

    let event = persistence::events::NewEvent {
        event_type: persistence::events::types::MESSAGE_SENT,
        conversation_id: Some(conversation),
        contact_id: None,
        data: json!({ "conversationId": conversation.to_string() }),
    };
    let workspace = s.t.workspace;
    other
        .write(async |txn| persistence::events::append(txn, workspace, event, Utc::now()).await)
        .await
        .unwrap();
    let committed = Instant::now();
    let delivered = first_request(&s.fake, committed - PROMPT, |r| r.path == "/crm/hooks").await;
    assert_prompt("a CRM delivery of another process's event", committed, delivered.at);
    let body: Value = delivered.json();
    assert_eq!(body["type"], "message.sent", "{body}");
}

mod sends_events_files_and_snoozes_start_within_100_ms {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::sends_events_files_and_snoozes_start_within_100_ms(
            super::setup(crate::helpers::Backend::Sqlite).await.expect("sqlite"),
        )
        .await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        match super::setup(crate::helpers::Backend::Postgres).await {
            Some(s) => super::sends_events_files_and_snoozes_start_within_100_ms(s).await,
            None => crate::helpers::postgres_skipped(module_path!()),
        }
    }
}
