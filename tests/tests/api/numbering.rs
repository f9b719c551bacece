//! Event cursors under concurrent commits: every committed event is numbered once, gap-free,
//! in the order its transaction committed, and (PostgreSQL) no transaction waits on a
//! workspace-wide lock to commit its own change.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use persistence::events::{self, NewEvent, types};
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::json;

use crate::helpers::{Backend, TestApp};

fn event(task: usize, step: usize) -> NewEvent {
    NewEvent {
        event_type: types::NOTE_ADDED,
        conversation_id: None,
        contact_id: None,
        data: json!({ "task": task, "step": step }),
    }
}

/// 16 writers × 5 commits in one workspace: when each commit returns its event is readable,
/// the cursors are 1..=80 without a gap, each event once, and each writer's events in the
/// order it committed them.
async fn concurrent_commits_are_numbered_gap_free_in_commit_order(app: TestApp) {
    let t = app.tenant("Numbering").await;
    let workspace = t.workspace;
    let writers = (0..16).map(|task| {
        let db = app.db.clone();
        tokio::spawn(async move {
            for step in 0..5 {
                let saved = db
                    .write(async |txn| events::append(txn, workspace, event(task, step), Utc::now()).await)
                    .await
                    .unwrap();
                let readable = events::list(db.conn(), workspace, 0, 1_000, None).await.unwrap();
                assert!(
                    readable.iter().any(|e| e.id == saved && e.cursor > 0),
                    "an event is readable, numbered, once its commit returns"
                );
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }
    let stored = events::list(app.db.conn(), workspace, 0, 1_000, None).await.unwrap();
    let cursors: Vec<i64> = stored.iter().map(|e| e.cursor).collect();
    assert_eq!(cursors, (1..=80).collect::<Vec<_>>(), "gap-free, each once, in cursor order");
    assert_eq!(stored.iter().map(|e| e.id).collect::<HashSet<_>>().len(), 80);
    for e in &stored {
        assert_eq!(e.payload["sequence"], json!(e.cursor.to_string()), "the CloudEvent carries its cursor");
    }
    for task in 0..16 {
        let steps: Vec<i64> = stored
            .iter()
            .filter(|e| e.payload["data"]["task"] == json!(task))
            .map(|e| e.payload["data"]["step"].as_i64().unwrap())
            .collect();
        assert_eq!(steps, [0, 1, 2, 3, 4], "writer {task}'s events in the order it committed them");
    }
}

/// PostgreSQL: while another transaction holds the workspace's row for an update (as a slow
/// numbering, or an admin's settings change, does: `FOR NO KEY UPDATE`), a change of that
/// workspace still commits: it is stored
/// and visible to others at once. Its events are numbered when the row is free, and only then
/// does the write return. (Before, the cursor was taken under that row's lock right before the
/// commit, so every commit of a workspace waited for the one before it to reach the disk.)
async fn a_change_commits_while_its_workspace_row_is_locked(app: TestApp) {
    let t = app.tenant("Locked").await;
    if app.backend == Backend::Sqlite {
        // One writer at a time by design; nothing to prove here.
        return;
    }
    let workspace = t.workspace;
    let locker = app.db.conn().begin().await.unwrap();
    locker
        .execute_raw(Statement::from_sql_and_values(
            app.db.backend(),
            "SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE",
            [workspace.into()],
        ))
        .await
        .unwrap();
    let db = app.db.clone();
    let write = tokio::spawn(async move {
        db.write(async |txn| events::append(txn, workspace, event(0, 0), Utc::now()).await).await.unwrap()
    });
    let started = Instant::now();
    let stored = loop {
        let row = app
            .db
            .conn()
            .query_one_raw(Statement::from_sql_and_values(
                app.db.backend(),
                "SELECT COUNT(*) AS n FROM events WHERE workspace_id = $1",
                [workspace.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 1 {
            break true;
        }
        if started.elapsed() > Duration::from_secs(3) {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(stored, "the change committed although its workspace's row was locked");
    assert!(!write.is_finished(), "the write returns only once its event is numbered");
    assert!(
        events::list(app.db.conn(), workspace, 0, 10, None).await.unwrap().is_empty(),
        "unnumbered: unread"
    );
    locker.rollback().await.unwrap();
    let saved = tokio::time::timeout(Duration::from_secs(10), write).await.unwrap().unwrap();
    let listed = events::list(app.db.conn(), workspace, 0, 10, None).await.unwrap();
    assert_eq!(listed.iter().map(|e| (e.id, e.cursor)).collect::<Vec<_>>(), [(saved, 1)]);
}

/// An event committed by a process that stopped before numbering it (PostgreSQL) is numbered
/// by the next numbering of any process, after the events numbered before it.
async fn events_a_stopped_process_left_unnumbered_are_numbered(app: TestApp) {
    let t = app.tenant("Stray").await;
    let workspace = t.workspace;
    app.db.write(async |txn| events::append(txn, workspace, event(0, 0), Utc::now()).await).await.unwrap();
    if app.backend == Backend::Sqlite {
        assert!(!app.db.number_stray_events().await.unwrap(), "SQLite numbers events as they are written");
        return;
    }
    // Committed without the numbering that follows a commit: what a SIGKILL between the two
    // leaves behind.
    let stray = app.db.conn().begin().await.unwrap();
    stray
        .execute_raw(Statement::from_sql_and_values(
            app.db.backend(),
            "INSERT INTO events (id, workspace_id, cursor, event_type, payload, occurred_at) \
             VALUES ($1, $2, -nextval('parley_pending_events'), 'note.added', '{\"data\": {}}', now())",
            [uuid::Uuid::now_v7().into(), workspace.into()],
        ))
        .await
        .unwrap();
    stray.commit().await.unwrap();
    assert_eq!(events::list(app.db.conn(), workspace, 0, 10, None).await.unwrap().len(), 1);
    assert!(app.db.number_stray_events().await.unwrap(), "it found the stray event");
    let listed = events::list(app.db.conn(), workspace, 0, 10, None).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.cursor).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(listed[1].payload["sequence"], json!("2"));
    assert!(!app.db.number_stray_events().await.unwrap(), "nothing is left");
}

on_both!(
    concurrent_commits_are_numbered_gap_free_in_commit_order,
    a_change_commits_while_its_workspace_row_is_locked,
    events_a_stopped_process_left_unnumbered_are_numbered,
);
