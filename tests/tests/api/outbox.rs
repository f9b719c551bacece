//! The delivery worker's claims: workspaces take turns (each one's oldest due send, then each
//! one's second…), on SQLite by ranking every waiting send, on PostgreSQL by walking the head
//! of each waiting workspace in the outbox's index; both give the same order.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use domain::{MessageId, WorkspaceId};
use persistence::messages::{NewMessage, Origin};
use sea_orm::ConnectionTrait;

use crate::helpers::{Inbound, TestApp};

/// One queued text of `conversation`, written at `at`.
fn text(
    conversation: &persistence::Conversation,
    author: domain::AgentId,
    at: DateTime<Utc>,
) -> (persistence::messages::Thread, NewMessage) {
    let body = format!("Queued at {at}");
    let new = NewMessage {
        origin: Origin::Outbound { author, idempotency_key: None, template: None },
        channel: domain::Channel::Whatsapp,
        kind: "text".into(),
        text: body.clone(),
        content: Some(persistence::content::MessageContent::Outbound(
            domain::content::OutboundContent::Text { body },
        )),
        sent_at: at,
        reply_to: None,
    };
    (conversation.into(), new)
}

/// The claims a fair queue gives, `limit` at a time: each batch takes every waiting
/// workspace's oldest, then each one's second…, a turn in the order of age.
fn expected_batches(
    mut waiting: Vec<(WorkspaceId, DateTime<Utc>, MessageId)>,
    limit: usize,
) -> Vec<Vec<MessageId>> {
    waiting.sort_by_key(|(_, at, id)| (*at, id.as_uuid()));
    let mut batches = Vec::new();
    while !waiting.is_empty() {
        let mut turn_of: HashMap<WorkspaceId, usize> = HashMap::new();
        let mut ranked: Vec<(usize, DateTime<Utc>, MessageId)> = waiting
            .iter()
            .map(|(workspace, at, id)| {
                let turn = turn_of.entry(*workspace).or_default();
                *turn += 1;
                (*turn, *at, *id)
            })
            .collect();
        ranked.sort_by_key(|(turn, at, id)| (*turn, *at, id.as_uuid()));
        let batch: Vec<MessageId> = ranked.into_iter().take(limit).map(|(_, _, id)| id).collect();
        waiting.retain(|(_, _, id)| !batch.contains(id));
        batches.push(batch);
    }
    batches
}

/// Three workspaces with 12, 3 and 1 queued sends (the first's all older than the others', one
/// of them not due yet) are claimed 5 at a time in turns; the send not due is never claimed.
/// The sends are scheduled a day ahead and claimed "then", so the app's own delivery worker
/// leaves them be.
async fn claims_serve_workspaces_in_turns(app: TestApp) {
    let start = Utc::now().trunc_subsecs(0) - Duration::minutes(10);
    let mut conversations = Vec::new();
    for (name, phone) in [("Big", "16505550001"), ("Small", "16505550002"), ("Tiny", "16505550003")] {
        let t = app.tenant(name).await;
        let id = app.receive(&t, &Inbound::with_phone(phone, &format!("US.{phone}"), "Pablo")).await;
        let row = persistence::conversations::find(app.db.conn(), t.workspace, id).await.unwrap().unwrap();
        conversations.push((row, t.admin));
    }
    let mut texts = Vec::new();
    for (i, count) in [12, 3, 1].into_iter().enumerate() {
        let (conversation, author) = &conversations[i];
        for n in 0..count {
            let at = start + Duration::seconds(i64::try_from(i).unwrap() * 100 + i64::from(n));
            texts.push(text(conversation, *author, at));
        }
    }
    let tomorrow = Utc::now().trunc_subsecs(0) + Duration::days(1);
    let later = tomorrow + Duration::days(1);
    let backend = app.db.backend();
    // Scheduled at `at`: the sends of the conversations, or only the one written at `sent_at`.
    let schedule = |at: DateTime<Utc>, which: &[domain::ConversationId], sent_at: Option<DateTime<Utc>>| {
        let p = |n: usize| {
            if backend == sea_orm::DatabaseBackend::Postgres { format!("${n}") } else { format!("?{n}") }
        };
        let list: Vec<String> = (0..which.len()).map(|i| p(i + 2)).collect();
        let mut values: Vec<sea_orm::Value> = vec![at.into()];
        values.extend(which.iter().map(|c| sea_orm::Value::from(*c)));
        let mut sql = format!(
            "UPDATE messages SET next_attempt_at = {} WHERE direction = 'OUTBOUND' AND conversation_id IN ({})",
            p(1),
            list.join(", ")
        );
        if let Some(sent_at) = sent_at {
            sql.push_str(&format!(" AND sent_at = {}", p(values.len() + 1)));
            values.push(sent_at.into());
        }
        sea_orm::Statement::from_sql_and_values(backend, sql, values)
    };
    let all: Vec<_> = conversations.iter().map(|(c, _)| c.id).collect();
    let newest_of_first = start + Duration::seconds(11);
    app.db
        .write(async |txn| {
            persistence::messages::insert_many(txn, texts).await?;
            txn.execute_raw(schedule(tomorrow, &all, None)).await?;
            // The first workspace's newest send waits for a retry after the claims.
            txn.execute_raw(schedule(later, &all[..1], Some(newest_of_first))).await?;
            Ok::<_, anyhow::Error>(())
        })
        .await
        .unwrap();
    let mut waiting = Vec::new();
    for (conversation, _) in &conversations {
        let rows =
            persistence::messages::list(app.db.conn(), conversation.workspace_id, conversation.id, None, 100)
                .await
                .unwrap();
        for m in rows {
            if m.direction == domain::Direction::Outbound && m.next_attempt_at.is_some_and(|at| at < later) {
                waiting.push((m.workspace_id, m.created_at, m.id));
            }
        }
    }
    assert_eq!(waiting.len(), 15, "15 sends due tomorrow, one later");
    let lease = later + Duration::days(1);
    let mut claimed = Vec::new();
    loop {
        let batch = app
            .db
            .write(async |txn| persistence::messages::claim_due(txn, tomorrow, lease, 5).await)
            .await
            .unwrap();
        if batch.is_empty() {
            break;
        }
        claimed.push(batch.iter().map(|m| m.id).collect::<Vec<_>>());
    }
    assert_eq!(claimed, expected_batches(waiting, 5));
}

on_both!(claims_serve_workspaces_in_turns);
